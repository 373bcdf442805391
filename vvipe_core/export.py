"""Saving poses: one pose or a sequence to JSON, CSV, NPZ or BVH, chosen by the file suffix.

Every file says its joint names, units and coordinate frame, so it can be read without this
code. Missing joints (NaN) are written as JSON null, an empty CSV cell, NaN in NPZ; BVH, which
cannot express them, interpolates (see vvipe_core.bvh). BVH is written in metres whatever the
input unit (what Blender's importer expects); the other formats keep the input's unit.
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vvipe_core.atomic import atomic_write, write_text
from vvipe_core.bvh import write_bvh
from vvipe_core.canonical import NOMINAL_TORSO_MM
from vvipe_core.errors import ExportError
from vvipe_core.skeleton import H36M17, SKELETONS, Skeleton

FORMAT_NAME = "vvipe-poses"
FORMAT_VERSION = 1
CANONICAL_FRAME = (
    "canonical (vvipe_core.canonical): pelvis at the origin, +z up along the torso, "
    "+x from the left hip to the right hip, the person faces +y"
)
# Metres per unit for the units BVH can convert; "canonical" = torso lengths at nominal size.
METRES_PER_UNIT = {"m": 1.0, "cm": 0.01, "mm": 0.001, "canonical": NOMINAL_TORSO_MM / 1000.0}


@dataclass
class PoseSequence:
    """Poses to save: (T, J, D) with D = 3 (or 2 for keypoints); NaN = missing joint."""

    poses: np.ndarray
    units: str  # "mm", "m", "canonical" (torso lengths), "px", ...
    coordinate_frame: str = CANONICAL_FRAME
    skeleton: Skeleton = H36M17
    fps: float | None = None
    time_s: np.ndarray | None = None  # (T,)
    frame_index: np.ndarray | None = None  # (T,)
    confidence: np.ndarray | None = None  # (T, J) of the 2D detection
    source: list[str] | None = None  # (T,) file each pose came from (folders of pictures)
    person: np.ndarray | None = None  # (T,) int: who (a picture's rank, a video's track id)
    meta: dict[str, str | float | int] = field(default_factory=dict)  # model files, settings

    def __post_init__(self) -> None:
        poses = np.asarray(self.poses, dtype=np.float64)
        if poses.ndim == 2:
            poses = poses[None]
        if poses.ndim != 3 or poses.shape[1] != self.skeleton.n or poses.shape[2] not in (2, 3):
            raise ExportError(
                None, f"expected ({self.skeleton.n}, D) or (T, {self.skeleton.n}, D) poses with "
                f"D = 2 or 3, got shape {np.shape(self.poses)}"
            )
        self.poses = poses
        n = len(poses)
        if self.frame_index is None:
            self.frame_index = np.arange(n)
        if self.time_s is None and self.fps:
            self.time_s = np.asarray(self.frame_index) / self.fps
        for name in ("time_s", "frame_index", "confidence", "source", "person"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ExportError(None, f"{name} has {len(value)} entries for {n} poses")

    @property
    def axes(self) -> str:
        return "xyz"[: self.poses.shape[2]]


def save_poses(path: str | Path, sequence: PoseSequence) -> Path:
    """Write by suffix: .json, .csv, .npz or .bvh. Returns the path written. Raises ExportError
    for what cannot be exported, WriteError (atomic.py) when the write itself fails."""
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ExportError(path, f"unknown export format; use one of {', '.join(sorted(WRITERS))}")
    if not path.parent.is_dir():
        raise ExportError(path, "the folder does not exist")
    try:
        writer(path, sequence)
    except ExportError as error:
        raise ExportError(path, error.reason)
    return path


def load_poses(path: str | Path) -> PoseSequence:
    """Read back a .json, .csv or .npz file written by save_poses."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ExportError(path, f"cannot read this format back; use one of {sorted(READERS)}")
    try:
        return reader(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ExportError(path, f"not a {FORMAT_NAME} file we can read ({error})")


def _header(seq: PoseSequence) -> dict:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "skeleton": seq.skeleton.name,
        "joints": list(seq.skeleton.joints),
        "parents": list(seq.skeleton.parents),
        "units": seq.units,
        "coordinate_frame": seq.coordinate_frame,
        "fps": seq.fps,
        "meta": seq.meta,
    }


def _write_json(path: Path, seq: PoseSequence) -> None:
    frames = []
    for t, pose in enumerate(seq.poses):
        frame: dict = {"index": int(seq.frame_index[t])}
        if seq.person is not None:
            frame["person"] = int(seq.person[t])
        if seq.time_s is not None:
            frame["time_s"] = round(float(seq.time_s[t]), 6)
        if seq.source is not None:
            frame["source"] = seq.source[t]
        frame["joints"] = [None if np.isnan(p).any() else [round(float(v), 4) for v in p]
                           for p in pose]
        if seq.confidence is not None:
            frame["confidence"] = [round(float(c), 4) for c in seq.confidence[t]]
        frames.append(frame)
    # Readable header, one line per frame (an indented frame list would be thousands of lines).
    head = json.dumps(_header(seq), indent=1)
    body = ",\n".join("  " + json.dumps(frame) for frame in frames)
    write_text(path, f'{head[:-2]},\n "frames": [\n{body}\n ]\n}}\n')


def _read_json(path: Path) -> PoseSequence:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError(f"a JSON {type(data).__name__}, not an object with a header and frames")
    _check_format(data.get("format"), data.get("version"))
    frames = data["frames"]
    skeleton = SKELETONS[data["skeleton"]]
    dims = next((len(j) for f in frames for j in f["joints"] if j is not None), 3)
    poses = np.array([[j if j is not None else [np.nan] * dims for j in f["joints"]]
                      for f in frames], dtype=np.float64).reshape(len(frames), skeleton.n, dims)
    return PoseSequence(
        poses=poses,
        units=data["units"],
        coordinate_frame=data["coordinate_frame"],
        skeleton=skeleton,
        fps=data["fps"],
        time_s=_column(frames, "time_s"),
        frame_index=np.array([f["index"] for f in frames]),
        confidence=_column(frames, "confidence"),
        source=[f["source"] for f in frames] if frames and "source" in frames[0] else None,
        person=_column(frames, "person"),
        meta=data.get("meta", {}),
    )


def _column(frames: list[dict], key: str) -> np.ndarray | None:
    return np.array([f[key] for f in frames]) if frames and key in frames[0] else None


def _write_csv(path: Path, seq: PoseSequence) -> None:
    """One row per frame; the first lines are '# key: value' comments (pandas: comment='#')."""
    header = _header(seq)
    columns = ["frame", "time_s", "source"] + (["person"] if seq.person is not None else [])
    columns += [f"{joint}_{axis}" for joint in seq.skeleton.joints for axis in seq.axes]
    if seq.confidence is not None:
        columns += [f"{joint}_confidence" for joint in seq.skeleton.joints]
    with atomic_write(path, "w", newline="", encoding="utf-8") as handle:
        for key in ("format", "version", "skeleton", "units", "coordinate_frame", "fps"):
            handle.write(f"# {key}: {header[key]}\n")
        handle.write(f"# meta: {json.dumps(seq.meta)}\n")
        writer = csv.writer(handle)
        writer.writerow(columns)
        for t, pose in enumerate(seq.poses):
            row = [int(seq.frame_index[t]),
                   "" if seq.time_s is None else f"{seq.time_s[t]:.6f}",
                   "" if seq.source is None else seq.source[t]]
            row += [] if seq.person is None else [int(seq.person[t])]
            row += ["" if math.isnan(v) else f"{v:.4f}" for v in pose.reshape(-1)]
            if seq.confidence is not None:
                row += [f"{c:.4f}" for c in seq.confidence[t]]
            writer.writerow(row)


def _read_csv(path: Path) -> PoseSequence:
    facts: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        if line.startswith("# "):
            key, _, value = line[2:].partition(": ")
            facts[key] = value
    _check_format(facts.get("format"), int(facts.get("version", 0)))
    skeleton = SKELETONS[facts["skeleton"]]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    if not rows:
        raise ValueError("no rows")
    axes = "xyz" if f"{skeleton.joints[0]}_z" in rows[0] else "xy"

    def numbers(keys: list[str]) -> np.ndarray:
        return np.array([[float(r[k]) if r[k] else np.nan for k in keys] for r in rows])

    poses = numbers([f"{j}_{a}" for j in skeleton.joints for a in axes])
    has_confidence = f"{skeleton.joints[0]}_confidence" in rows[0]
    fps = None if facts["fps"] == "None" else float(facts["fps"])
    return PoseSequence(
        poses=poses.reshape(len(rows), skeleton.n, len(axes)),
        units=facts["units"],
        coordinate_frame=facts["coordinate_frame"],
        skeleton=skeleton,
        fps=fps,
        time_s=numbers(["time_s"])[:, 0] if rows[0]["time_s"] else None,
        frame_index=np.array([int(r["frame"]) for r in rows]),
        confidence=numbers([f"{j}_confidence" for j in skeleton.joints]) if has_confidence
        else None,
        source=[r["source"] for r in rows] if rows[0]["source"] else None,
        person=np.array([int(r["person"]) for r in rows]) if "person" in rows[0] else None,
        meta=json.loads(facts.get("meta", "{}")),
    )


def _write_npz(path: Path, seq: PoseSequence) -> None:
    """Plain arrays only (np.load needs no allow_pickle); strings as unicode arrays."""
    arrays = {
        "poses": seq.poses.astype(np.float32),
        "joints": np.array(seq.skeleton.joints),
        "parents": np.array(seq.skeleton.parents, dtype=np.int16),
        "frame_index": np.asarray(seq.frame_index, dtype=np.int64),
        "fps": np.float64(np.nan if seq.fps is None else seq.fps),
    }
    for key in ("format", "skeleton", "units", "coordinate_frame"):
        arrays[key] = np.array(_header(seq)[key])
    arrays["version"] = np.int64(FORMAT_VERSION)
    arrays["meta_json"] = np.array(json.dumps(seq.meta))
    if seq.time_s is not None:
        arrays["time_s"] = np.asarray(seq.time_s, dtype=np.float64)
    if seq.confidence is not None:
        arrays["confidence"] = np.asarray(seq.confidence, dtype=np.float32)
    if seq.source is not None:
        arrays["source"] = np.array(seq.source)
    if seq.person is not None:
        arrays["person"] = np.asarray(seq.person, dtype=np.int64)
    with atomic_write(path) as handle:  # np.savez would append ".npz" to a path without it
        np.savez_compressed(handle, **arrays)


def _read_npz(path: Path) -> PoseSequence:
    with np.load(path, allow_pickle=False) as data:
        _check_format(str(data["format"]), int(data["version"]))
        fps = float(data["fps"])
        return PoseSequence(
            poses=data["poses"].astype(np.float64),
            units=str(data["units"]),
            coordinate_frame=str(data["coordinate_frame"]),
            skeleton=SKELETONS[str(data["skeleton"])],
            fps=None if math.isnan(fps) else fps,
            time_s=data.get("time_s"),
            frame_index=data["frame_index"],
            confidence=data.get("confidence"),
            source=[str(s) for s in data["source"]] if "source" in data else None,
            person=data.get("person"),
            meta=json.loads(str(data["meta_json"])),
        )


def _write_bvh(path: Path, seq: PoseSequence) -> None:
    if seq.skeleton is not H36M17 or seq.poses.shape[2] != 3:
        raise ExportError(path, "BVH export needs 3D poses of the h36m17 skeleton")
    if seq.units not in METRES_PER_UNIT:
        raise ExportError(path, f"BVH export needs units in {sorted(METRES_PER_UNIT)}")
    write_bvh(path, seq.poses, seq.fps or 30.0, METRES_PER_UNIT[seq.units])


def _check_format(name: object, version: object) -> None:
    if name != FORMAT_NAME:
        raise ValueError(f"format is {name!r}, not {FORMAT_NAME!r}")
    if version != FORMAT_VERSION:
        raise ValueError(f"version {version} is not {FORMAT_VERSION}")


WRITERS: dict[str, Callable[[Path, PoseSequence], None]] = {
    ".json": _write_json, ".csv": _write_csv, ".npz": _write_npz, ".bvh": _write_bvh,
}
READERS: dict[str, Callable[[Path], PoseSequence]] = {
    ".json": _read_json, ".csv": _read_csv, ".npz": _read_npz,
}
