"""``python -m alerts``: ``judge`` runs the offline CSV judge, anything else the scheduler."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "judge":
        from alerts import cli

        return cli.main(args[1:])
    import alerts.job  # imported here so that `judge` works without the scheduler's dependencies

    code: int = alerts.job.main(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
