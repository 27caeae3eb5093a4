"""Entry point: ``python -m ingest.hj212 decode [--tz ZONE]`` (see ``cli.py``)."""

from ingest.hj212.cli import main

raise SystemExit(main())
