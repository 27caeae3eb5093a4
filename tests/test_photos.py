"""Photos of public reports (core.photos): accepted by content only, re-encoded as JPEG with no
EXIF, GPS, ICC or XMP, orientation applied, and decompression bombs refused from the header.
Pure: no server."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from core.photos import NotAnImage, TooManyPixels, clean_photo, sniff

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(size: tuple[int, int] = (40, 20), orientation: int = 1) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 27.0, 42.3), 3: "E", 4: (121.0, 21.0, 3.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 128, comment=b"secret")
    return out.getvalue()


def encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (16, 16)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, fmt)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` grey pixels (its data is one short row)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_gps_exif_icc_and_comment_are_gone() -> None:
    raw = jpeg_with_gps()
    with Image.open(io.BytesIO(raw)) as before:
        assert before.getexif().get_ifd(GPS_IFD)  # the sample does carry GPS
    photo = clean_photo(raw)
    with Image.open(io.BytesIO(photo.jpeg)) as after:
        assert after.format == "JPEG"
        assert dict(after.getexif()) == {}
        assert "exif" not in after.info
        assert "icc_profile" not in after.info
        assert "comment" not in after.info
        assert "xmp" not in after.info
        assert after.size == (40, 20)
    assert b"CameraMaker" not in photo.jpeg
    assert b"secret" not in photo.jpeg


def test_orientation_is_applied_before_the_exif_goes() -> None:
    photo = clean_photo(jpeg_with_gps((40, 20), orientation=6))  # rotated 90 degrees
    assert (photo.width, photo.height) == (20, 40)


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "RGBA"), ("PNG", "P"), ("PNG", "L"),
                                           ("WEBP", "RGB"), ("JPEG", "L")])
def test_png_webp_and_jpeg_become_rgb_jpeg(fmt: str, mode: str) -> None:
    photo = clean_photo(encoded(fmt, mode))
    with Image.open(io.BytesIO(photo.jpeg)) as img:
        assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (16, 16))


@pytest.mark.parametrize("data", [
    b"", b"GIF89a" + b"\0" * 40, b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    b"%PDF-1.7\n", b"\xff\xd8\xff" + b"\0" * 100,  # a JPEG's magic and nothing decodable
    b"\x89PNG\r\n\x1a\n" + b"garbage", b"RIFF\0\0\0\0WEBPVP8 ",
])
def test_anything_else_is_not_an_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        clean_photo(data)


def test_gif_and_bmp_are_refused_even_when_valid() -> None:
    for fmt in ("GIF", "BMP", "TIFF"):
        data = encoded(fmt)
        assert sniff(data) is None
        with pytest.raises(NotAnImage):
            clean_photo(data)


@pytest.mark.parametrize(("width", "height"), [(8000, 5001), (20_000, 20_000),
                                               (65_535, 65_535)])
def test_a_decompression_bomb_is_refused_from_its_header(width: int, height: int) -> None:
    with pytest.raises(TooManyPixels):
        clean_photo(png_header(width, height))


def test_forty_megapixels_is_the_limit() -> None:
    with pytest.raises(TooManyPixels):
        clean_photo(encoded("PNG", "L", (101, 100)), max_pixels=10_000)
    assert clean_photo(encoded("PNG", "L", (100, 100)), max_pixels=10_000).width == 100
