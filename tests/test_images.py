"""Reading users' pictures: formats, EXIF orientation, pixel modes, huge and broken files."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.media import T_POSE
from vvipe_core.errors import ImageReadError
from vvipe_core.images import MAX_PIXELS, image_from_array, load_image

_OPAQUE_DARK_RGBA = np.dstack(
    [np.full((40, 64, 3), 10, np.uint8), np.full((40, 64), 255, np.uint8)]
)


def test_reads_a_photo_at_full_size() -> None:
    image = load_image(T_POSE)
    reference = cv2.imread(str(T_POSE))[:, :, ::-1]
    assert image.rgb.dtype == np.uint8 and image.rgb.flags.c_contiguous
    assert image.size == (reference.shape[1], reference.shape[0])
    assert np.abs(image.rgb.astype(int) - reference).mean() < 2  # two JPEG decoders agree
    assert not image.downscaled


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = np.asarray(Image.open(T_POSE))
    stored = Image.fromarray(np.rot90(upright, k=1).copy())  # as a phone held sideways stores it
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif, quality=95)

    image = load_image(path)
    assert image.size == (upright.shape[1], upright.shape[0])
    assert np.abs(image.rgb.astype(int) - upright).mean() < 4


@pytest.mark.parametrize(
    "name, pixels",
    [
        ("gray.png", np.tile(np.arange(0, 256, 4, dtype=np.uint8), (40, 1))),
        ("gray16.png", np.tile(np.arange(0, 65536, 1024, dtype=np.uint16), (40, 1))),
        ("rgba.png", _OPAQUE_DARK_RGBA),
        ("rgb16.tif", np.full((40, 64, 3), 32768, dtype=np.uint16)),
        ("palette.gif", None),
    ],
)
def test_pixel_modes_become_8bit_rgb(tmp_path: Path, name: str, pixels: np.ndarray | None) -> None:
    path = tmp_path / name
    if pixels is None:
        Image.new("P", (64, 40), 3).save(path)
    else:
        if pixels.ndim == 3:
            pixels = pixels[..., [2, 1, 0, 3][: pixels.shape[2]]]  # OpenCV writes BGR(A)
        cv2.imwrite(str(path), pixels)
    image = load_image(path)
    assert image.rgb.shape == (40, 64, 3) and image.rgb.dtype == np.uint8
    if name == "gray16.png":  # 16 bits are scaled down, not clipped
        assert image.rgb[0, -1, 0] == round(64512 / 257)
    if name == "rgba.png":
        assert image.rgb[0, 0].tolist() == [10, 10, 10]
    if name == "rgb16.tif":
        assert image.rgb[0, 0].tolist() == [128, 128, 128]


def test_transparent_pixels_become_white() -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    assert image_from_array(rgba).rgb[0, 0].tolist() == [255, 255, 255]


def test_content_not_extension_decides(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    Image.open(T_POSE).save(path, format="PNG")
    assert load_image(path).size == Image.open(T_POSE).size


def _expect_error(path: Path, words: str) -> None:
    with pytest.raises(ImageReadError) as caught:
        load_image(path)
    message = str(caught.value)
    assert str(path) in message and words in message, message


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n" * 10)
    _expect_error(path, "not a picture")


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "half.jpg"
    path.write_bytes(T_POSE.read_bytes()[: T_POSE.stat().st_size // 2])
    _expect_error(path, "truncated")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    _expect_error(path, "empty (0 bytes)")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.jpg", "no such file")
    _expect_error(tmp_path, "not a file")


def _png_header_only(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_picture_beyond_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    _png_header_only(path, 40000, 40000)
    assert 40000 * 40000 > MAX_PIXELS
    _expect_error(path, "too large")
