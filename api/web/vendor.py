"""python -m api.web.vendor: fetch the charting library the pages use (uPlot, MIT licence).

No third-party code is committed: ``make install`` runs this, which asks the npm registry for
one pinned version (``npm pack``, kept in a cache folder), checks the package's SHA-256, and
copies the browser build, its stylesheet and its licence into the git-ignored
api/web/static/vendor/. Each copied file is checked against its own pinned SHA-256, so that a
file changed afterwards is noticed and replaced. Nothing is fetched when the files are in place.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from api.web.render import STATIC_DIR

log = logging.getLogger(__name__)

PACKAGE, VERSION = "uplot", "1.6.32"
TARBALL_SHA256 = "4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d"
# Member of the package -> (file name in the vendor folder, its SHA-256).
FILES: dict[str, tuple[str, str]] = {
    "package/dist/uPlot.iife.min.js": (
        "uPlot.iife.min.js", "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"),
    "package/dist/uPlot.min.css": (
        "uPlot.min.css", "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"),
    "package/LICENSE": (
        "uPlot.LICENSE", "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd"),
}
VENDOR_DIR = STATIC_DIR / "vendor"
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "var" / "cache" / "npm"


class VendorError(RuntimeError):
    """The library could not be fetched or does not match its pinned hash."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def missing(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """The vendored files that are absent or differ from their pinned hash."""
    return [name for name, digest in FILES.values()
            if not (vendor_dir / name).is_file() or sha256_of(vendor_dir / name) != digest]


def tarball(cache: Path) -> Path:
    """The pinned package from the cache, fetched with ``npm pack`` when it is not there."""
    path = cache / f"{PACKAGE}-{VERSION}.tgz"
    if not path.is_file() or sha256_of(path) != TARBALL_SHA256:
        cache.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        if npm is None:
            raise VendorError("npm is not installed (Debian: apt-get install npm)")
        log.info("fetching %s@%s with npm pack", PACKAGE, VERSION)
        done = subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination",
                               str(cache), "--silent"], capture_output=True, text=True,
                              timeout=300, check=False)
        if done.returncode != 0 or not path.is_file():
            raise VendorError(f"npm pack {PACKAGE}@{VERSION} failed: {done.stderr.strip()}")
    if sha256_of(path) != TARBALL_SHA256:
        raise VendorError(f"{path} does not match its pinned SHA-256")
    return path


def install(vendor_dir: Path = VENDOR_DIR, cache: Path = DEFAULT_CACHE) -> list[str]:
    """Put the pinned files in ``vendor_dir``; returns the names written (none if in place)."""
    todo = missing(vendor_dir)
    if not todo:
        return []
    vendor_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball(cache), "r:gz") as tar:
        for member, (name, digest) in FILES.items():
            if name not in todo:
                continue
            source = tar.extractfile(member)
            if source is None:
                raise VendorError(f"{member} is not a file in the package")
            data = source.read()
            if hashlib.sha256(data).hexdigest() != digest:
                raise VendorError(f"{member} does not match its pinned SHA-256")
            (vendor_dir / name).write_bytes(data)
    return todo


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m api.web.vendor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where npm pack keeps the package (default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = install(VENDOR_DIR, args.cache)
    except (VendorError, OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        log.error("%s", exc)
        return 1
    log.info("%s@%s in %s%s", PACKAGE, VERSION, VENDOR_DIR,
             f" (wrote {', '.join(written)})" if written else " (already in place)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
