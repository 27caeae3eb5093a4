"""Photos sent with public reports: checked by their content and re-encoded without metadata.

``clean_photo(data)`` accepts JPEG, PNG and WebP only, recognised by their leading bytes (never
by a file name or a declared type), of at most ``MAX_PIXELS`` (40 megapixels, checked from the
header before any pixel is decoded, so a decompression bomb costs nothing), and returns a new
JPEG (quality 85): the EXIF orientation applied, then the pixels alone copied into a fresh
image, so no EXIF (GPS included), ICC profile, XMP or comment survives. The size of the upload
itself is bounded where it is read (``api.routes.public_reports``).

    PhotoRejected           a photo that is refused
    ├── NotAnImage          not JPEG, PNG or WebP, or undecodable (HTTP 415)
    └── TooManyPixels       above MAX_PIXELS (HTTP 413)
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000
JPEG_QUALITY = 85
FORMATS = ("JPEG", "PNG", "WEBP")


class PhotoRejected(ValueError):
    """A photo that is refused."""


class NotAnImage(PhotoRejected):
    """Not JPEG, PNG or WebP, or damaged."""


class TooManyPixels(PhotoRejected):
    """More pixels than MAX_PIXELS."""


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    jpeg: bytes
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The format of ``data`` by its magic bytes: JPEG, PNG, WEBP or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def clean_photo(data: bytes, max_pixels: int = MAX_PIXELS) -> CleanPhoto:
    """``data`` re-encoded as JPEG without metadata; PhotoRejected when it is refused."""
    fmt = sniff(data)
    if fmt is None:
        raise NotAnImage("photo: not a JPEG, PNG or WebP image")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check (a warning, then an error, far above our limit)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt])
            with img:
                width, height = img.size
                if width * height > max_pixels:
                    raise TooManyPixels(f"photo: {width}x{height} pixels; at most "
                                        f"{max_pixels // 1_000_000} megapixels")
                img.load()
                upright = ImageOps.exif_transpose(img)
                pixels = flatten(upright)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise TooManyPixels("photo: too many pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PhotoRejected):
            raise
        raise NotAnImage("photo: the image cannot be decoded") from exc
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=JPEG_QUALITY)
    return CleanPhoto(out.getvalue(), pixels.width, pixels.height)


def flatten(img: Image.Image) -> Image.Image:
    """The first frame's pixels as RGB on white, in a new image that carries no ``info``."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        rgb = base
    else:
        rgb = img.convert("RGB")
    return Image.frombytes("RGB", rgb.size, rgb.tobytes())
