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


def side_by_side(pictures: Sequence[Path], height: int = 240) -> np.ndarray:
    """Photos scaled to one height and put side by side: one RGB picture of several people."""
    scaled = [_scaled(picture, height) for picture in pictures]
    return cv2.cvtColor(np.hstack(scaled), cv2.COLOR_BGR2RGB)


def _scaled(picture: Path, height: int) -> np.ndarray:
    photo = cv2.imread(str(picture))
    return cv2.resize(photo, (round(photo.shape[1] * height / photo.shape[0]), height))


def write_people_video(
    path: Path, frames: int = 20, crossing: bool = False, size: tuple[int, int] = (360, 240),
    fps: float = 10,
) -> np.ndarray:
    """An MJPG .avi of two people (T_POSE and STANDING photos) on a grey floor: swaying in
    place at the two sides, or `crossing` (each walks to the other side; T_POSE passes in
    front). Returns the true (frames, 2) x of each person's centre, for scoring a tracker."""
    width, height = size
    people = [_scaled(T_POSE, round(0.85 * height)), _scaled(STANDING, round(0.85 * height))]
    top = (height - people[0].shape[0]) // 2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG videos here"
    centres = np.zeros((frames, 2))
    for t in range(frames):
        s = t / max(frames - 1, 1)
        room = [width - p.shape[1] for p in people]
        if crossing:
            left = [round(s * room[0]), round((1 - s) * room[1])]
        else:  # a few pixels of sway, so that the boxes move a little
            sway = round(0.03 * width * np.sin(t / 3))
            left = [round(0.05 * width) + sway, room[1] - round(0.05 * width) - sway]
        frame = np.full((height, width, 3), 90, dtype=np.uint8)
        for i in (1, 0):  # person 0 in front
            frame[top : top + people[i].shape[0], left[i] : left[i] + people[i].shape[1]] = people[i]
            centres[t, i] = left[i] + people[i].shape[1] / 2
        writer.write(frame)
    writer.release()
    return centres


def ids_of_true_people(keypoints: dict[int, np.ndarray], centres: np.ndarray) -> np.ndarray:
    """(T, P) which track id each true person got per frame (0: not found, or the people too
    close to tell apart): a track's pose belongs to the person whose true centre is nearest
    its keypoints' mean x. `keypoints`: {id: (T, 17, 2)} as tracked."""
    assigned = np.zeros(centres.shape, dtype=int)
    apart = np.abs(centres[:, 0] - centres[:, 1]) > 0.1 * np.abs(centres).max()
    for track_id, points in keypoints.items():
        for t in np.flatnonzero(apart & np.isfinite(points).any(axis=(1, 2))):
            x = np.nanmean(points[t, :, 0])
            assigned[t, np.argmin(np.abs(centres[t] - x))] = track_id
    return assigned
