"""Several people and live video: finding everyone, tracking them, and the live loop's speed.

1. Pictures: two photos side by side (every pair of the media photos, at three heights). People
   found by MediaPipe alone (one pass), by mask-and-redetect (what `PoseDetector.detect` does)
   and by tiling (overlapping square crops, merged by box overlap); extra finds on the single
   photos; time per extra person found (composites of 1, 2 and 3 people).
2. Tracking: generated clips of two people side by side and crossing: id switches and how often
   each person carries an id; the tracker's cost per frame and person.
3. Live: a generated two-person 640×480 clip played as a camera at 60 fps (faster than anything
   here can keep up with): frames per second of the live loop (main person, and everyone)
   against MediaPipe's VIDEO mode alone on the same frames decoded beforehand; each stage's
   median latency and read -> shown.

    python -m bench.bench_people                 # from the repository root
    python -m bench.bench_people --smoke         # a few seconds: checks that it runs
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from tests import media

ROOT = Path(__file__).resolve().parent.parent
SHARED_MEDIA = ROOT.parent / "shared" / "media"
TEST_PHOTOS = sorted((ROOT / "tests" / "data").glob("yogait_*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled one")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that it runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for lifting")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from vvipe_core.api import VVIPE
    from vvipe_core.detect import PoseDetector

    photos = sorted(SHARED_MEDIA.glob("yogait_*.jpg")) or TEST_PHOTOS
    heights = (240,) if args.smoke else (240, 480, 720)
    if args.smoke:
        photos = photos[:3]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; python {platform.python_version()}, "
          f"torch {torch.__version__}, opencv {cv2.__version__}; photos from "
          f"{photos[0].parent.name}/")
    model = VVIPE.load(args.checkpoint, device="cpu")
    with PoseDetector() as detector, tempfile.TemporaryDirectory() as folder:
        detector.detect(photos[0])  # MediaPipe's first call builds its graph: not timed
        _pictures(detector, photos, heights)
        _extra_person_time(detector, repeats=2 if args.smoke else 10)
        _tracking(detector, Path(folder), frames=12 if args.smoke else 40)
        _tracking_cost(frames=50 if args.smoke else 500)
        _live(detector, model, Path(folder), frames=20 if args.smoke else 600)


# -- 1. pictures ------------------------------------------------------------------------------
def _tiles(detector, rgb: np.ndarray) -> list[tuple[float, ...]]:
    """Tiling alone: square crops (side = height), half overlapping, each detected once; boxes
    overlapping by IoU >= 0.5 merged."""
    from vvipe_core.detect import box_iou

    height, width = rgb.shape[:2]
    side = min(height, width)
    starts = sorted({*range(0, max(width - side, 0) + 1, max(side // 2, 1)), width - side})
    boxes: list[tuple[float, ...]] = []
    for x in starts:
        crop = np.ascontiguousarray(rgb[:, x : x + side])
        for pose in detector.detect_once(crop, (side, height)):
            box = (pose.box[0] + x, pose.box[1], pose.box[2] + x, pose.box[3])
            if all(box_iou(box, known) < 0.5 for known in boxes):
                boxes.append(box)
    return boxes


def _masking_alone(detector, rgb: np.ndarray) -> list:
    from vvipe_core import detect

    wide, detect.TILE_ASPECT = detect.TILE_ASPECT, float("inf")  # no tiles
    try:
        return detector.detect(rgb)
    finally:
        detect.TILE_ASPECT = wide


def _pictures(detector, photos: list[Path], heights: tuple[int, ...]) -> None:
    methods = {
        "MediaPipe alone (one pass)": lambda rgb: detector.detect_once(rgb, rgb.shape[1::-1]),
        "mask and redetect alone": lambda rgb: _masking_alone(detector, rgb),
        "tiling alone (square crops, IoU merge)": lambda rgb: _tiles(detector, rgb),
        "mask and redetect + tiles (detect)": detector.detect,
    }
    pairs = list(itertools.combinations(photos, 2))
    composites = [media.side_by_side(pair, h) for h in heights for pair in pairs]
    print(f"\n## everyone in a picture: {len(composites)} two-person composites "
          f"({len(pairs)} pairs × heights {', '.join(map(str, heights))} px), "
          f"{len(photos)} single photos")
    print("| method | both found | missed someone | found extra | ms per composite | "
          "extra finds on single photos |\n|---|---:|---:|---:|---:|---:|")
    for name, method in methods.items():
        counts, seconds = [], 0.0
        for rgb in composites:
            start = time.perf_counter()
            counts.append(len(method(rgb)))
            seconds += time.perf_counter() - start
        counts = np.array(counts)
        singles = sum(len(method(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))) - 1
                      for p in photos)
        print(f"| {name} | {(counts == 2).sum()} | {(counts < 2).sum()} | {(counts > 2).sum()} "
              f"| {1000 * seconds / len(composites):.0f} | {singles} |")


def _extra_person_time(detector, repeats: int) -> None:
    rows = []
    for people in (1, 2, 3):
        rgb = media.side_by_side([media.T_POSE, media.STANDING, media.Y_POSE][:people], 360)
        start = time.perf_counter()
        for _ in range(repeats):
            found = len(detector.detect(rgb))
        rows.append((people, found, (time.perf_counter() - start) / repeats))
    print("\n| people in the picture (360 px high) | found | ms per picture (detect) |\n"
          "|---:|---:|---:|")
    for people, found, seconds in rows:
        print(f"| {people} | {found} | {1000 * seconds:.0f} |")
    (_, found_1, seconds_1), (_, found_3, seconds_3) = rows[0], rows[-1]
    extra = (f"{1000 * (seconds_3 - seconds_1) / (found_3 - found_1):.0f} ms"
             if found_3 > found_1 else "n/a (no more people found)")
    print(f"\ntime per extra person found: {extra}")


# -- 2. tracking ------------------------------------------------------------------------------
def _tracking(detector, folder: Path, frames: int) -> None:
    from vvipe_core.tracking import count_id_switches, track_people
    from vvipe_core.video import VideoDetection

    print(f"\n## tracking: generated clips, {frames} frames of 360×240 at 10 fps")
    print("| clip | ids | id switches | frames each person has an id | ms per frame (tracking) |"
          "\n|---|---:|---:|---|---:|")
    for name, crossing in (("side by side", False), ("crossing (one passes in front)", True)):
        video = folder / f"{crossing}.avi"
        centres = media.write_people_video(video, frames, crossing=crossing)
        run = VideoDetection(video, detector)
        results = list(run)
        start = time.perf_counter()
        tracks = track_people(results, (run.info.width, run.info.height))
        seconds = time.perf_counter() - start
        assigned = media.ids_of_true_people({i: t.keypoints for i, t in tracks.items()}, centres)
        shares = " / ".join(f"{(assigned[:, p] > 0).mean():.0%}" for p in range(2))
        print(f"| {name} | {len(tracks)} | {count_id_switches(assigned)} | {shares} "
              f"| {1000 * seconds / frames:.2f} |")


def _tracking_cost(frames: int) -> None:
    from vvipe_core.detect import Pose2D
    from vvipe_core.tracking import PeopleTracker

    print("\n| people per frame | µs per frame | µs per frame and person |\n|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for people in (1, 2, 4, 8):
        start_x = np.arange(people) * 150.0 + 50
        sequence = []
        for t in range(frames):
            poses = []
            for x in start_x + 2.0 * t:
                points = np.column_stack([x + rng.normal(0, 15, 17),
                                          np.linspace(50, 250, 17)]).astype(np.float32)
                box = (*points.min(axis=0), *points.max(axis=0))
                poses.append(Pose2D(points, points, np.ones(17, np.float32),
                                    np.zeros(17, bool), box, (2000, 300),
                                    np.zeros((33, 5), np.float32), np.zeros((33, 3), np.float32)))
            sequence.append(poses)
        tracker = PeopleTracker()
        start = time.perf_counter()
        for t, poses in enumerate(sequence):
            tracker.update(poses, t / 30)
        per_frame = (time.perf_counter() - start) / frames
        print(f"| {people} | {1e6 * per_frame:.0f} | {1e6 * per_frame / people:.0f} |")


# -- 3. live ----------------------------------------------------------------------------------
def _live(detector, model, folder: Path, frames: int) -> None:
    from vvipe_core.images import LoadedImage, fit_within
    from vvipe_core.live import LIVE_MAX_SIDE, STAGES, FrameSource, LivePipeline, run_live

    clip = folder / "live.avi"
    media.write_people_video(clip, frames, size=(640, 480), fps=60)
    capture = cv2.VideoCapture(str(clip))
    decoded = []  # the reference's frames: at most 150 (they are held in memory)
    while len(decoded) < 150:
        ok, bgr = capture.read()
        if not ok:
            break
        rgb = fit_within(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), LIVE_MAX_SIDE)
        decoded.append(LoadedImage(rgb=rgb, size=(bgr.shape[1], bgr.shape[0])))
    capture.release()
    with detector.video_session() as session:
        start = time.perf_counter()
        for i, image in enumerate(decoded):
            session.detect(image, i * 1000 // 60 + 1)
        alone_fps = len(decoded) / (time.perf_counter() - start)
    print(f"\n## live: {frames} frames of 640×480 played as a 60 fps camera")
    print(f"MediaPipe VIDEO mode alone on the first {len(decoded)} (decoded beforehand): "
          f"{alone_fps:.1f} fps (the reference)")
    print(f"| live loop | fps | ratio to MediaPipe alone | stale frames skipped | "
          f"{' | '.join(STAGES)} | read → shown (median ms) |\n"
          f"|---|---:|---:|---:|{'---:|' * len(STAGES)}---:|")
    for name, everyone in (("main person", False), ("everyone (2 people)", True)):
        with FrameSource(str(clip)) as source:
            pipeline = LivePipeline(detector, model, all_people=everyone)
            try:
                report = run_live(source, pipeline)
            finally:
                pipeline.close()
        stages = " | ".join(f"{report.median_ms(s):.1f}" for s in STAGES)
        print(f"| {name} | {report.fps:.1f} | {report.fps / alone_fps:.2f} | {report.dropped} "
              f"of {report.read} | {stages} | {report.median_ms('total'):.1f} |")


if __name__ == "__main__":
    main()
