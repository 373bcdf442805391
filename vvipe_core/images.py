"""Reading a user's picture into an 8-bit RGB array the detector can take.

Pillow reads first (most formats, EXIF orientation, every pixel mode); OpenCV is the fallback for
the formats Pillow does not identify. The format comes from the file's content, never from its
extension, so a PNG named ``.jpg`` reads fine.

Detection does not need every pixel of a 20000×20000 photo: images are downscaled so that their
longer side is at most ``max_side``, while decoding, so the full picture never sits in memory:
JPEGs are decoded at reduced scale (Pillow's draft mode); PNG, TIFF, WebP, GIF and HEIF/AVIF
are streamed through libvips' thumbnail (pyvips: sequential decoding, shrinking as rows arrive;
a 20000×20000 PNG peaks at about 0.1 GB instead of 4.8 GB). Uncompressed formats (BMP, PPM,
TGA...) are decoded whole. Pictures over ``MAX_PIXELS`` (decompression bombs) are refused
from their header, before decoding.
:class:`LoadedImage` keeps the full size so that keypoints, which MediaPipe gives in
normalised coordinates, map back to the original frame exactly.
"""
from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vvipe_core.errors import ImageReadError

# Longer side of the picture handed to the detector. MediaPipe crops each person at 256 px, so
# more only costs time; less would lose people who are small in a big picture.
DETECT_MAX_SIDE = 2048
# Largest picture we agree to open (the same limit as OpenCV's default): about 3 GB as RGB.
MAX_PIXELS = 1 << 30
# Suffixes treated as pictures when a folder is scanned (reading itself goes by content).
IMAGE_SUFFIXES = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
        ".gif", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".jp2", ".avif", ".hdr", ".pfm",
    }
)
# Transparent pixels are laid over white: cut-outs of people usually come from light pages.
_BACKGROUND = 255

# Pillow's decompression-bomb limit is a module global; we lift it only while a file is being
# opened (we check MAX_PIXELS ourselves), under a lock so two readers cannot interleave.
_PIL_LIMIT_LOCK = threading.Lock()
_EXIF_ORIENTATION = 0x0112
# Compressed formats (Pillow's names) libvips decodes row by row; JPEG has Pillow's draft mode.
_SHRUNK_BY_VIPS = frozenset({"PNG", "TIFF", "WEBP", "GIF", "HEIF", "AVIF"})


@dataclass(frozen=True)
class LoadedImage:
    """A picture ready for detection.

    rgb: (h, w, 3) uint8, C-contiguous; possibly smaller than the original.
    size: (width, height) of the full picture, after EXIF orientation: keypoints are reported
    in this frame.
    """

    rgb: np.ndarray
    size: tuple[int, int]
    path: Path | None = None

    @property
    def downscaled(self) -> bool:
        return self.rgb.shape[1] != self.size[0] or self.rgb.shape[0] != self.size[1]


def load_image(path: str | Path, max_side: int | None = DETECT_MAX_SIDE) -> LoadedImage:
    """Read any picture Pillow or OpenCV can decode; raise ImageReadError naming the reason."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "no such file")
    if not path.is_file():
        raise ImageReadError(path, "not a file")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "the file is empty (0 bytes)")
    try:
        rgb, size = _read_with_pillow(path, max_side)
    except UnidentifiedImageError:
        rgb, size = _read_with_opencv(path)
    rgb = fit_within(rgb, max_side)
    return LoadedImage(rgb=rgb, size=size, path=path)


def image_from_array(pixels: np.ndarray, max_side: int | None = DETECT_MAX_SIDE) -> LoadedImage:
    """Wrap an in-memory picture: (H, W) gray or (H, W, 3|4) **RGB(A)**, uint8/uint16/float."""
    pixels = np.asarray(pixels)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4)):
        raise ImageReadError(None, f"expected (H, W), (H, W, 3) or (H, W, 4), got {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageReadError(None, f"the picture is empty: shape {pixels.shape}")
    rgb = _to_rgb8(pixels)
    size = (rgb.shape[1], rgb.shape[0])
    return LoadedImage(rgb=fit_within(rgb, max_side), size=size)


def fit_within(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """Downscale (area averaging) so the longer side is at most max_side; never upscale."""
    h, w = rgb.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return np.ascontiguousarray(rgb)
    scale = max_side / max(h, w)
    new_size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, new_size, interpolation=cv2.INTER_AREA)


@contextmanager
def _pillow_without_bomb_limit() -> Iterator[None]:
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _read_with_pillow(path: Path, max_side: int | None) -> tuple[np.ndarray, tuple[int, int]]:
    try:
        with _pillow_without_bomb_limit():
            image = Image.open(path)
    except UnidentifiedImageError:
        raise  # not a format Pillow knows: the caller tries OpenCV
    except OSError as error:
        reason = error.strerror or f"truncated or corrupt? {error}"
        raise ImageReadError(path, f"cannot read the file ({reason})")
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageReadError(
                path, f"too large: {width}×{height} pixels (at most {MAX_PIXELS:,} are read)"
            )
        if max_side is not None and max(width, height) > max_side:
            if image.format in _SHRUNK_BY_VIPS:
                return _read_shrunk_with_vips(path, max_side)
            # JPEG: decode at 1/2, 1/4 or 1/8 scale, still at least max_side on the long side.
            # (Uncompressed formats are decoded whole, bounded by MAX_PIXELS and their size.)
            scale = max_side / max(width, height)
            image.draft(image.mode, (int(width * scale) + 1, int(height * scale) + 1))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
                oriented = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError) as error:
            reason = f"cannot decode the picture (truncated or corrupt?): {error}"
            raise ImageReadError(path, reason)
        quarter_turn = image.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
        return _pillow_to_rgb8(oriented), (height, width) if quarter_turn else (width, height)


def _read_shrunk_with_vips(path: Path, max_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """A big picture decoded row by row and shrunk on the way to fit `max_side` (EXIF
    orientation applied); memory grows with the output, not with the picture."""
    import pyvips  # libvips starts threads and caches: only for the pictures that need it

    try:
        header = pyvips.Image.new_from_file(str(path))
        turned = header.get_typeof("orientation") and header.get("orientation") in (5, 6, 7, 8)
        small = pyvips.Image.thumbnail(str(path), max_side, height=max_side, size="down",
                                       fail_on="truncated")  # not grey rows, silently
        if small.bands < 3:  # gray (+ alpha) -> RGB (+ alpha), keeping the bit depth
            small = small.colourspace("srgb" if small.format == "uchar" else "rgb16")
        pixels = small.numpy()
    except pyvips.Error as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown error"
        raise ImageReadError(path, f"cannot decode the picture (truncated or corrupt?): {reason}")
    size = (header.height, header.width) if turned else (header.width, header.height)
    return _to_rgb8(pixels), size


def _read_with_opencv(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    # np.fromfile + imdecode rather than imread: imread cannot open non-ASCII paths on Windows.
    data = np.fromfile(path, dtype=np.uint8)
    pixels = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if pixels is None:
        raise ImageReadError(path, "not a picture that Pillow or OpenCV can read")
    rgb = _to_rgb8(pixels[:, :, ::-1])
    return rgb, (rgb.shape[1], rgb.shape[0])


def _pillow_to_rgb8(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        return _to_rgb8(np.asarray(image))
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(image))
    has_alpha = "A" in mode or "a" in mode or "transparency" in image.info
    return _to_rgb8(np.asarray(image.convert("RGBA" if has_alpha else "RGB")))


def _to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """Gray / RGB / RGBA of any depth -> (H, W, 3) uint8 RGB."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    pixels = _to_uint8(pixels)
    if pixels.shape[2] == 4:
        alpha = pixels[:, :, 3:].astype(np.float32) / 255.0
        blended = pixels[:, :, :3] * alpha + _BACKGROUND * (1.0 - alpha)
        pixels = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    elif pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.bool_:
        return pixels.astype(np.uint8) * 255
    values = pixels.astype(np.float32)
    if np.issubdtype(pixels.dtype, np.floating):
        peak = float(np.nanmax(values)) if values.size else 1.0
        full = max(1.0, peak)  # [0, 1] floats are the common convention
    else:
        # 16-bit pictures (also Pillow's 32-bit "I" mode holding 16-bit data).
        full = 65535.0 if pixels.max(initial=0) <= 65535 else float(pixels.max())
    return np.clip(np.nan_to_num(values) * (255.0 / full) + 0.5, 0, 255).astype(np.uint8)
