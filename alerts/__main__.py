"""``python -m alerts``: the compliance scheduler and its tools.

    python -m alerts                      the scheduler (alerts.job)
    python -m alerts once [--until T]     one judging pass, then exit (alerts.job)
    python -m alerts judge ...            the offline CSV judge (alerts.cli)
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "judge":
        from alerts import cli

        return cli.main(args[1:])
    import alerts.job  # imported here so that `judge` works without the scheduler's dependencies

    code: int = alerts.job.main(args)  # no command (the scheduler), or "once"
    return code


if __name__ == "__main__":
    raise SystemExit(main())
