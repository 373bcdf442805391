"""`vvipe live`: 3D poses live from a camera, a stream or a video file, optionally recorded.

Exit codes: 0 done (the source ended, --max-frames reached, or Ctrl-C), 1 the source failed
mid-run (what was recorded is kept), 2 unusable source or options.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from vvipe_core.checkpoint import CheckpointError
from vvipe_core.cli.lift import CheckpointOption, LandmarkerOption, _fail, _say, console
from vvipe_core.errors import ExportError, VVIPEError

PRINT_EVERY_S = 5.0


def live(
    source: Annotated[str, typer.Argument(
        help="A camera index (0), a stream URL, or a video file (played at its frame rate)."
    )],
    all_people: Annotated[bool, typer.Option(
        "--all-people", help="Everyone, each with a track id, not only the main person."
    )] = False,
    max_frames: Annotated[int | None, typer.Option(
        min=1, help="Stop after processing this many frames."
    )] = None,
    record: Annotated[Path | None, typer.Option(
        help="Save the poses to this .json file (the format of `vvipe lift`), kept valid "
        "while recording."
    )] = None,
    checkpoint: CheckpointOption = None,
    model: LandmarkerOption = None,
) -> None:
    """Detect, track and lift people live; print the frame rate and each stage's latency."""
    from vvipe_core.api import VVIPE
    from vvipe_core.detect import PoseDetector
    from vvipe_core.live import FrameSource, LivePipeline, Recorder, run_live

    try:
        if record is not None:
            if record.suffix.lower() != ".json":
                raise ExportError(record, "live recordings are .json files (as `vvipe lift`)")
            if not record.parent.is_dir():
                raise ExportError(record, "the folder does not exist")
        vvipe = VVIPE.load(checkpoint)
        with PoseDetector(model) as detector, FrameSource(source) as frames:
            recorder = None if record is None else Recorder(
                record, frames.fps, all_people,
                {"checkpoint": vvipe.source, "detector_sha256": detector.model.sha256,
                 "source": source})
            pipeline = LivePipeline(detector, vvipe, all_people)
            _say(console, escape(f"live from {source} ({frames.fps:g} fps); Ctrl-C stops"))
            try:
                report = run_live(frames, pipeline, max_frames=max_frames, recorder=recorder,
                                  show=_ticker(pipeline))
            finally:
                pipeline.close()
    except (VVIPEError, CheckpointError) as error:
        _fail(str(error))
    _say(console, escape(("stopped: " if report.interrupted else "") + report.summary()))
    if record is not None:
        _say(console, escape(f"recorded {report.frames} frames -> {record}"))
    if report.failure:
        _fail(f"{source}: {report.failure}" + ("; the recording so far is kept" if record else ""),
              code=1)


def _ticker(pipeline) -> Callable[[object], None]:
    """A `show` for run_live: every PRINT_EVERY_S, one line on how the run goes."""
    last = time.perf_counter()

    def show(frame) -> None:
        nonlocal last
        now, recent = time.perf_counter(), pipeline.timings["total"][-100:]
        if now - last >= PRINT_EVERY_S and recent:
            last = now
            _say(console, f"frame {frame.index}: {len(frame.people)} in view, read -> shown "
                 f"{1000 * statistics.median(recent):.0f} ms (median of the last {len(recent)})")

    return show


def register(app: typer.Typer) -> None:
    app.command()(live)
