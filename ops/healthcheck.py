"""python -m ops.healthcheck URL...: exit 0 when every URL answers 2xx, else 1.

The container health check of the Python services (their images have no curl).
"""

from __future__ import annotations

import sys

import httpx


def check(urls: list[str], timeout_s: float = 3.0) -> list[str]:
    """The problems found, one line per URL that did not answer 2xx."""
    problems = []
    for url in urls:
        try:
            status = httpx.get(url, timeout=timeout_s).status_code
        except httpx.HTTPError as exc:
            problems.append(f"{url}: {type(exc).__name__}")
            continue
        if not 200 <= status < 300:
            problems.append(f"{url}: HTTP {status}")
    return problems


def main(argv: list[str] | None = None) -> int:
    urls = sys.argv[1:] if argv is None else argv
    if not urls:
        print("usage: python -m ops.healthcheck URL...", file=sys.stderr)
        return 2
    problems = check(urls)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
