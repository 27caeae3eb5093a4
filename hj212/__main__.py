"""Entry point: ``python -m hj212 decode [--tz ZONE]`` (see ``cli.py``)."""

from hj212.cli import main

raise SystemExit(main())
