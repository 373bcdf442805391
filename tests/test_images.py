"""Reading users' pictures: formats, EXIF orientation, pixel modes, huge and broken files."""
from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.media import T_POSE
from vvipe_core.errors import ImageReadError
from vvipe_core.images import MAX_PIXELS, fit_within, image_from_array, load_image

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


def _png(path: Path, width: int, height: int, rows: int = 0) -> Path:
    """An 8-bit gray PNG of `width`×`height` with `rows` black rows of data, written without
    ever holding the picture (huge pictures in a few MB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    packer, row = zlib.compressobj(1), bytes(width + 1)  # filter byte 0, then black pixels
    data = b"".join(packer.compress(row) for _ in range(rows)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + (chunk(b"IDAT", data) if rows else b"") + chunk(b"IEND", b""))
    return path


def _png_header_only(path: Path, width: int, height: int) -> None:
    _png(path, width, height)


def test_picture_beyond_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    _png_header_only(path, 40000, 40000)
    assert 40000 * 40000 > MAX_PIXELS
    _expect_error(path, "too large")


@pytest.mark.slow
def test_a_20000_pixel_png_is_shrunk_while_decoding_in_bounded_memory(tmp_path: Path) -> None:
    path = _png(tmp_path / "huge.png", 20000, 20000, rows=20000)  # 1.7 MB on disk
    # VmHWM: this process's own peak (ru_maxrss would count the parent's, forked before exec).
    code = ("import re\n"
            "from vvipe_core.images import load_image\n"
            f"image = load_image({str(path)!r})\n"
            "print(image.rgb.shape, image.size, int(image.rgb.max()))\n"
            "status = open('/proc/self/status').read()\n"
            "print(int(re.search(r'VmHWM:\\s*(\\d+) kB', status).group(1)) * 1024)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, cwd=Path(__file__).parent.parent)
    facts, peak = result.stdout.splitlines()
    assert facts == "(2048, 2048, 3) (20000, 20000) 0", result.stderr
    assert int(peak) < 1.5e9  # before: 4.8 GB, as the picture was made RGB at full size


@pytest.mark.parametrize("suffix", [".png", ".tif", ".gif", ".bmp"])
def test_big_pictures_of_any_format_shrink_to_what_a_full_decode_gives(tmp_path, suffix) -> None:
    photo = np.asarray(Image.open(T_POSE).convert("RGBA"))
    big = np.ascontiguousarray(np.repeat(np.repeat(photo, 2, axis=0), 2, axis=1))
    big[..., 3] = 255
    path = tmp_path / f"big{suffix}"
    Image.fromarray(big).convert("RGB" if suffix in (".gif", ".bmp") else "RGBA").save(path)
    reference = fit_within(np.asarray(Image.open(path).convert("RGB")), 600)
    image = load_image(path, max_side=600)
    assert image.size == (big.shape[1], big.shape[0]) and image.rgb.shape == reference.shape
    assert np.abs(image.rgb.astype(int) - reference).mean() < 3


def test_a_big_truncated_picture_is_an_error_not_grey_rows(tmp_path: Path) -> None:
    whole = _png(tmp_path / "whole.png", 3000, 3000, rows=3000).read_bytes()
    (tmp_path / "half.png").write_bytes(whole[: len(whole) // 2])
    _expect_error(tmp_path / "half.png", "truncated or corrupt")


def test_a_big_sideways_picture_is_turned_upright_while_shrinking(tmp_path: Path) -> None:
    upright = np.asarray(Image.open(T_POSE))
    stored = Image.fromarray(np.rot90(np.repeat(np.repeat(upright, 2, 0), 2, 1), k=1).copy())
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "sideways.tif"
    stored.save(path, exif=exif)
    image = load_image(path, max_side=max(upright.shape[:2]))
    assert image.size == (2 * upright.shape[1], 2 * upright.shape[0])
    assert np.abs(image.rgb.astype(int) - upright).mean() < 4
