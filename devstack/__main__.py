"""``python -m devstack [cluster]``: the local stack of ``make run`` (devstack.run), or with
``cluster`` the clustered deployment of issue 17 (devstack.cluster)."""

from __future__ import annotations

import sys

from devstack import cluster, run


def main(argv: list[str]) -> int:
    if argv[:1] == ["cluster"]:
        return cluster.main()
    if argv:
        print("usage: python -m devstack [cluster]", file=sys.stderr)
        return 2
    return run.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
