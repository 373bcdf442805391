"""Pictures for the detection tests (tests/data, licences in tests/data/LICENSES.md) and a
writer for the small videos the tests make from them."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).parent / "data"
T_POSE = DATA / "yogait_t_pose_t6.jpg"
Y_POSE = DATA / "yogait_letter_y.jpg"
LUNGE_LEFT = DATA / "yogait_side_lunge_left.jpg"
LUNGE_RIGHT = DATA / "yogait_side_lunge_right.jpg"
STANDING = DATA / "yogait_tadasana_tada1.jpg"
PHOTOS = (T_POSE, Y_POSE, LUNGE_LEFT, LUNGE_RIGHT, STANDING)


def write_video(
    path: Path, pictures: Sequence[Path | None], size: tuple[int, int] = (240, 180), fps: float = 10
) -> Path:
    """An MJPG .avi with one frame per entry: a photo resized to `size`, or a blank frame."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG videos here"
    cache: dict[Path, np.ndarray] = {}
    for picture in pictures:
        if picture is None:
            frame = np.full((size[1], size[0], 3), 200, dtype=np.uint8)
        else:
            if picture not in cache:
                cache[picture] = cv2.resize(cv2.imread(str(picture)), size)
            frame = cache[picture]
        writer.write(frame)
    writer.release()
    return path


def make_huge_photo(
    path: Path, scale: int = 19, offset: tuple[int, int] = (3500, 500)
) -> Path:
    """A 20000×13334 JPEG: T_POSE enlarged `scale` times, pasted at `offset` on a gray canvas."""
    canvas = np.full((13334, 20000, 3), 128, dtype=np.uint8)
    photo = cv2.imread(str(T_POSE))
    big = cv2.resize(photo, (photo.shape[1] * scale, photo.shape[0] * scale))
    canvas[offset[1] : offset[1] + big.shape[0], offset[0] : offset[0] + big.shape[1]] = big
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return path
