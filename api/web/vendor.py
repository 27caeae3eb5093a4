"""python -m api.web.vendor: fetch the browser libraries the project serves: the charting
library of the pages (uPlot, MIT licence), the public map (Leaflet, BSD-2-Clause) and the API
documentation pages at /docs (Swagger UI, Apache-2.0) and /redoc (ReDoc, MIT), and axe-core
(MPL-2.0), the accessibility checks of the browser tests (tests/test_web_a11y.py), which the
pages never load.

No third-party code is committed: ``make install`` runs this, which asks the npm registry for
one pinned version of each package (``npm pack``, kept in a cache folder), checks the package's
SHA-256, and copies the browser build, its stylesheet and its licence into the git-ignored
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
from dataclasses import dataclass
from pathlib import Path

from api.web.render import STATIC_DIR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Package:
    """One pinned npm package and the files taken from it."""

    name: str
    version: str
    tarball_sha256: str
    # Member of the package -> (file name in the vendor folder, its SHA-256).
    files: dict[str, tuple[str, str]]


UPLOT = Package("uplot", "1.6.32",
                "4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d", {
    "package/dist/uPlot.iife.min.js": (
        "uPlot.iife.min.js", "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"),
    "package/dist/uPlot.min.css": (
        "uPlot.min.css", "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"),
    "package/LICENSE": (
        "uPlot.LICENSE", "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd"),
})
SWAGGER_UI = Package("swagger-ui-dist", "5.35.0",
                     "1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6", {
    "package/swagger-ui-bundle.js": (
        "swagger-ui-bundle.js",
        "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2"),
    "package/swagger-ui.css": (
        "swagger-ui.css", "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d"),
    "package/favicon-32x32.png": (
        "swagger-ui-favicon.png",
        "3ed612f41e050ca5e7000cad6f1cbe7e7da39f65fca99c02e99e6591056e5837"),
    "package/LICENSE": (
        "swagger-ui.LICENSE", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"),
})
REDOC = Package("redoc", "2.5.2",
                "b80462bec8e96d985086b1a23768f46f0776ed37c719b9a752fd443557282e03", {
    "package/bundles/redoc.standalone.js": (
        "redoc.standalone.js", "6beb5aea23b71d09122ee35de8f326e38aec050e774f3bfba1f34e5c36608986"),
    "package/LICENSE": (
        "redoc.LICENSE", "d3026d549cf68ab7355bcfa85877bf8f845b3334a7efbfdc63936432fb34ff0e"),
})
AXE = Package("axe-core", "4.10.3",
              "0f2b4d7dcdf7d1219df8d1959ad68e565f51d14c3f0d88bb71cd59abeb956292", {
    "package/axe.min.js": (
        "axe.min.js", "880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb"),
    "package/LICENSE": (
        "axe-core.LICENSE", "af175b9d96ee93c21a036152e1b905b0b95304d4ae8c2c921c7609100ba8df7e"),
})
LEAFLET = Package("leaflet", "1.9.4",
                  "84c65a256e50657896f54c33bd857b6849ebe94c817803be818bf32a3dde0b77", {
    "package/dist/leaflet.js": (
        "leaflet.js", "db49d009c841f5ca34a888c96511ae936fd9f5533e90d8b2c4d57596f4e5641a"),
    "package/dist/leaflet.css": (
        "leaflet.css", "a7837102824184820dfa198d1ebcd109ff6d0ff9a2672a074b9a1b4d147d04c6"),
    "package/LICENSE": (
        "leaflet.LICENSE", "53e8dc25862014e4324741ca18fbe3611e11d42ef69f59f86ea8c5389647d4cb"),
})
PACKAGES: tuple[Package, ...] = (UPLOT, SWAGGER_UI, REDOC, AXE, LEAFLET)
# The charting library's pins by their old names (uPlot was the first package).
PACKAGE, VERSION, TARBALL_SHA256, FILES = (UPLOT.name, UPLOT.version, UPLOT.tarball_sha256,
                                           UPLOT.files)
VENDOR_DIR = STATIC_DIR / "vendor"
AXE_JS = VENDOR_DIR / "axe.min.js"
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "var" / "cache" / "npm"


class VendorError(RuntimeError):
    """A library could not be fetched or does not match its pinned hash."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def missing(vendor_dir: Path = VENDOR_DIR, packages: tuple[Package, ...] = PACKAGES
            ) -> list[str]:
    """The vendored files that are absent or differ from their pinned hash."""
    return [name for p in packages for name, digest in p.files.values()
            if not (vendor_dir / name).is_file() or sha256_of(vendor_dir / name) != digest]


def tarball(cache: Path, package: Package = UPLOT) -> Path:
    """The pinned package from the cache, fetched with ``npm pack`` when it is not there."""
    spec = f"{package.name}@{package.version}"
    path = cache / f"{package.name}-{package.version}.tgz"
    if not path.is_file() or sha256_of(path) != package.tarball_sha256:
        cache.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        if npm is None:
            raise VendorError("npm is not installed (Debian: apt-get install npm)")
        log.info("fetching %s with npm pack", spec)
        done = subprocess.run([npm, "pack", spec, "--pack-destination",
                               str(cache), "--silent"], capture_output=True, text=True,
                              timeout=300, check=False)
        if done.returncode != 0 or not path.is_file():
            raise VendorError(f"npm pack {spec} failed: {done.stderr.strip()}")
    if sha256_of(path) != package.tarball_sha256:
        raise VendorError(f"{path} does not match its pinned SHA-256")
    return path


def install(vendor_dir: Path = VENDOR_DIR, cache: Path = DEFAULT_CACHE,
            packages: tuple[Package, ...] = PACKAGES) -> list[str]:
    """Put the pinned files in ``vendor_dir``; returns the names written (none if in place)."""
    written: list[str] = []
    for package in packages:
        todo = missing(vendor_dir, (package,))
        if not todo:
            continue
        vendor_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball(cache, package), "r:gz") as tar:
            for member, (name, digest) in package.files.items():
                if name not in todo:
                    continue
                source = tar.extractfile(member)
                if source is None:
                    raise VendorError(f"{member} is not a file in {package.name}")
                data = source.read()
                if hashlib.sha256(data).hexdigest() != digest:
                    raise VendorError(f"{member} of {package.name} does not match its pinned "
                                      "SHA-256")
                (vendor_dir / name).write_bytes(data)
                written.append(name)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m api.web.vendor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where npm pack keeps the packages (default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = install(VENDOR_DIR, args.cache)
    except (VendorError, OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        log.error("%s", exc)
        return 1
    pins = ", ".join(f"{p.name}@{p.version}" for p in PACKAGES)
    log.info("%s in %s%s", pins, VENDOR_DIR,
             f" (wrote {', '.join(written)})" if written else " (already in place)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
