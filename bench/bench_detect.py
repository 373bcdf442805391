"""Detection and lifting speed, smoothing effect, and memory over a long video.

1. Pictures (IMAGE mode): mean time per picture of detection alone (decoding the file included)
   and of detection + lifting, over the test photos.
2. Video (VIDEO mode): a generated clip (a slow camera pan and zoom over a photo, plus sensor
   noise) -> per-frame time of decoding + detection, + lifting, + smoothing; and 2D / 3D jitter
   before and after smoothing (the scene moves smoothly, so jitter is the detector's noise).
3. Memory: peak resident memory of a child process that streams a short and a long generated
   video (default 100 and 5,000 frames of 160×120) through detection; equal peaks mean nothing
   grows with the video's length.

    python -m bench.bench_detect                       # from the repository root
    python -m bench.bench_detect --frames 150 --long-frames 1000 --checkpoint my.pt
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = sorted((ROOT / "tests" / "data").glob("yogait_*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled one")
    parser.add_argument("--repeats", type=int, default=10, help="passes over the photos")
    parser.add_argument("--frames", type=int, default=300, help="frames of the timed clip")
    parser.add_argument("--long-frames", type=int, default=5000, help="frames of the memory clip")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for lifting")
    parser.add_argument("--memory-child", nargs=2, metavar=("VIDEO", "STRIDE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(Path(args.memory_child[0]), int(args.memory_child[1]))
        return

    import torch

    torch.set_num_threads(args.threads)
    from vvipe_core.api import VVIPE
    from vvipe_core.detect import PoseDetector

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; python {platform.python_version()}, "
          f"torch {torch.__version__}, opencv {cv2.__version__}")
    model = VVIPE.load(args.checkpoint, device="cpu")
    print(f"checkpoint: {model.source}")
    with PoseDetector() as detector:
        _pictures(detector, model, args.repeats)
        with tempfile.TemporaryDirectory() as folder:
            clip = _panning_clip(Path(folder) / "pan.avi", args.frames, (640, 480))
            _video(detector, model, clip, _expected_keypoints(detector, args.frames, (640, 480)))
    _memory(args.long_frames)


def _pictures(detector, model, repeats: int) -> None:
    from vvipe_core.lifting import lift_keypoints

    detector.detect(PHOTOS[0])  # warm-up
    detect_s, lift_s, n = 0.0, 0.0, 0
    for _ in range(repeats):
        for photo in PHOTOS:
            start = time.perf_counter()
            pose = detector.detect_person(photo)
            middle = time.perf_counter()
            lift_keypoints(model, pose.keypoints[None])
            detect_s += middle - start
            lift_s += time.perf_counter() - middle
            n += 1
    print(f"\n## pictures: {len(PHOTOS)} photos × {repeats}, IMAGE mode, file decoding included")
    print("| step | ms per picture |\n|---|---:|")
    print(f"| detection | {1000 * detect_s / n:.1f} |")
    print(f"| detection + lifting | {1000 * (detect_s + lift_s) / n:.1f} |")


def _video(detector, model, clip: Path, expected: np.ndarray) -> None:
    from vvipe_core.lifting import lift_keypoints
    from vvipe_core.smoothing import DEFAULT_SMOOTHING, jitter, one_euro
    from vvipe_core.video import VideoDetection, track_main_person

    start = time.perf_counter()
    run = VideoDetection(clip, detector)
    track = track_main_person(run, (run.info.width, run.info.height))
    detect_s = time.perf_counter() - start
    start = time.perf_counter()
    raw = lift_keypoints(model, track.keypoints)
    lift_s = time.perf_counter() - start
    start = time.perf_counter()
    smooth_2d = one_euro(track.keypoints, times_s=track.time_s, settings=DEFAULT_SMOOTHING)
    smooth_3d = one_euro(lift_keypoints(model, smooth_2d), times_s=track.time_s,
                         settings=DEFAULT_SMOOTHING)
    smooth_s = time.perf_counter() - start
    n = len(track)
    print(f"\n## video: {n} frames of {run.info.width}×{run.info.height}, VIDEO mode, "
          f"{len(track.frames_without_person)} frames without a person")
    print("| step | ms per frame |\n|---|---:|")
    print(f"| decoding + detection | {1000 * detect_s / n:.2f} |")
    print(f"| + lifting (one batch) | {1000 * (detect_s + lift_s) / n:.2f} |")
    print(f"| + smoothing 2D and 3D (includes lifting again) | "
          f"{1000 * (detect_s + lift_s + smooth_s) / n:.2f} |")
    print("\n| jitter (mean acceleration per frame²) | raw | smoothed | ratio |")
    print("|---|---:|---:|---:|")
    for label, before, after in (("2D keypoints (px)", track.keypoints, smooth_2d),
                                 ("3D lifted (torso lengths)", raw, smooth_3d)):
        a, b = jitter(before), jitter(after)
        print(f"| {label} | {a:.4g} | {b:.4g} | {b / a:.2f} |")
    print("\nmedian distance (px) to the still photo's keypoints moved by the known camera motion: "
          f"raw {_median_distance(track.keypoints, expected):.2f}, "
          f"smoothed {_median_distance(smooth_2d, expected):.2f}")


def _median_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.nanmedian(np.linalg.norm(a - b, axis=-1)))


def _camera_motion(frames: int, w: int, h: int) -> np.ndarray:
    """(frames, 2, 3) affine maps of a camera slowly panning and zooming over a w×h photo."""
    affines = []
    for i in range(frames):
        phase = 2 * np.pi * i / frames
        affine = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, 1.0 + 0.15 * np.sin(phase))
        affine[:, 2] += (0.08 * w * np.sin(phase), 0.04 * h * np.cos(phase))
        affines.append(affine)
    return np.array(affines)


def _panning_clip(path: Path, frames: int, size: tuple[int, int]) -> Path:
    """The photo seen through _camera_motion, resized to `size`, with sensor noise."""
    photo = cv2.imread(str(PHOTOS[0]))
    h, w = photo.shape[:2]
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    for affine in _camera_motion(frames, w, h):
        frame = cv2.resize(cv2.warpAffine(photo, affine, (w, h)), size)
        noisy = frame + rng.normal(0, 4, frame.shape)
        writer.write(np.clip(noisy, 0, 255).astype(np.uint8))
    writer.release()
    return path


def _expected_keypoints(detector, frames: int, size: tuple[int, int]) -> np.ndarray:
    """The still photo's keypoints carried by the known camera motion into each frame."""
    still = detector.detect_person(PHOTOS[0])
    w, h = still.image_size
    moved = np.einsum("tij,kj->tki", _camera_motion(frames, w, h),
                      np.c_[still.keypoints, np.ones(len(still.keypoints))])
    return moved * [size[0] / w, size[1] / h]


def _memory(long_frames: int) -> None:
    print("\n## memory: peak resident set size of a process streaming a video (160×120)")
    print("| frames | peak RSS (MiB) | wall time (s) |\n|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for frames in (100, long_frames):
            clip = _panning_clip(Path(folder) / f"clip{frames}.avi", frames, (160, 120))
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-m", "bench.bench_detect", "--memory-child", str(clip), "1"],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )
            peak_mib = float(out.stdout.strip().splitlines()[-1])
            print(f"| {frames:,} | {peak_mib:.0f} | {time.perf_counter() - start:.1f} |")


def _memory_child(clip: Path, stride: int) -> None:
    from vvipe_core.detect import PoseDetector
    from vvipe_core.video import VideoDetection, track_main_person

    with PoseDetector() as detector:
        run = VideoDetection(clip, detector, stride=stride)
        track = track_main_person(run, (run.info.width, run.info.height))
    assert len(track) > 0
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # kB on Linux


if __name__ == "__main__":
    main()
