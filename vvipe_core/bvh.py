"""BVH motion files from joint positions, and a small BVH reader with forward kinematics.

Writing: the hierarchy is our 17-joint skeleton standing in a T-pose (bone lengths are the
sequence's median lengths), in BVH's usual Y-up frame, in metres so that Blender's importer
shows a life-size figure with its default settings. Each frame's joint rotations are computed
from the positions so that forward kinematics reproduces every bone's direction:

- a joint with one child turns by the smallest rotation that points its bone at the child
  (no twist relative to its parent, so no sudden spins);
- a joint with several children (pelvis, thorax) gets the best-fitting rotation of all its
  bones, and each child hangs off its own zero-length connector joint (``pelvis.r_hip``) that
  carries the small remainder. Without connectors the nose, which moves against the
  shoulders, could not be reproduced exactly. Blender draws connectors as the pelvis→hip etc.
  bones.

Bone lengths are fixed in BVH, so positions come back exactly only when the input's bone
lengths do not change; directions always come back. Missing joints (NaN) are interpolated in
time; a joint never seen keeps its rest direction.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vvipe_core.atomic import write_text
from vvipe_core.errors import ExportError
from vvipe_core.skeleton import H36M17

# Z-up (our data, canonical space) -> BVH's Y-up: (x, y, z) -> (x, z, -y), a proper rotation.
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
CHANNEL_ORDER = "ZXY"  # rotation channels of every joint, as in the CMU BVH files

# T-pose rest direction of the bone ending at each joint, in our Z-up frame (+x = the
# person's right, +z up); converted to Y-up when written.
_REST_DIRECTION_Z_UP = {
    "r_hip": (1, 0, 0), "r_knee": (0, 0, -1), "r_ankle": (0, 0, -1),
    "l_hip": (-1, 0, 0), "l_knee": (0, 0, -1), "l_ankle": (0, 0, -1),
    "spine": (0, 0, 1), "thorax": (0, 0, 1), "neck_nose": (0, 0, 1), "head_top": (0, 0, 1),
    "l_shoulder": (-1, 0, 0), "l_elbow": (-1, 0, 0), "l_wrist": (-1, 0, 0),
    "r_shoulder": (1, 0, 0), "r_elbow": (1, 0, 0), "r_wrist": (1, 0, 0),
}
_END_SITE_FRACTION = 0.25  # end sites extend leaf bones by this fraction (Blender needs a tail)


@dataclass
class Motion:
    """A BVH file's content: a joint tree (end sites included) and per-frame channels."""

    names: list[str]  # end sites are named "<parent> End"
    parents: list[int]
    offsets: np.ndarray  # (n, 3)
    channels: list[list[str]]  # per joint, e.g. ["Xposition", ..., "Zrotation", ...]; [] = none
    frame_time: float
    values: np.ndarray  # (T, total channel count)

    def positions(self) -> np.ndarray:
        """(T, n, 3) global positions of every joint and end site (forward kinematics)."""
        n_frames = len(self.values)
        positions = np.zeros((n_frames, len(self.names), 3))
        rotations = np.zeros((n_frames, len(self.names), 3, 3))
        column = 0
        for j, (parent, channels) in enumerate(zip(self.parents, self.channels)):
            local_rotation = np.broadcast_to(np.eye(3), (n_frames, 3, 3)).copy()
            translation = np.broadcast_to(self.offsets[j], (n_frames, 3)).copy()
            for channel in channels:
                value = self.values[:, column]
                column += 1
                axis = "XYZ".index(channel[0])
                if channel.endswith("position"):
                    translation[:, axis] = value  # BVH: position channels replace the offset
                else:
                    local_rotation = local_rotation @ _axis_rotation(axis, np.deg2rad(value))
            if parent < 0:
                positions[:, j] = translation
                rotations[:, j] = local_rotation
            else:
                positions[:, j] = positions[:, parent] + np.einsum(
                    "tij,tj->ti", rotations[:, parent], translation
                )
                rotations[:, j] = rotations[:, parent] @ local_rotation
        return positions


def write_bvh(path: str | Path, poses: np.ndarray, fps: float, metres_per_unit: float) -> None:
    """Write (T, 17, 3) Z-up positions (our joint order) as a BVH file in metres."""
    motion = motion_from_positions(poses, fps, metres_per_unit)
    write_text(path, format_bvh(motion), encoding="ascii")


def motion_from_positions(poses: np.ndarray, fps: float, metres_per_unit: float) -> Motion:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (H36M17.n, 3):
        raise ExportError(None, f"BVH needs (T, 17, 3) positions, got shape {poses.shape}")
    if fps <= 0:
        raise ExportError(None, f"BVH needs a positive frame rate, got {fps}")
    points = _fill_gaps(poses @ Z_UP_TO_Y_UP.T * metres_per_unit)
    if np.isnan(points[:, 0]).any():
        raise ExportError(None, "BVH needs the pelvis in at least one frame")
    tree = _Tree.build(points)
    rotations = tree.global_rotations(points)
    return tree.motion(points[:, 0], rotations, 1.0 / fps)


def _fill_gaps(points: np.ndarray) -> np.ndarray:
    """Linear interpolation in time of NaN joints; the nearest value before the first and after
    the last sighting; joints never seen stay NaN."""
    filled = points.copy()
    frames = np.arange(len(points))
    for j in range(points.shape[1]):
        seen = np.isfinite(points[:, j]).all(axis=-1)
        if seen.any() and not seen.all():
            for axis in range(3):
                filled[:, j, axis] = np.interp(frames, frames[seen], points[seen, j, axis])
    return filled


class _Tree:
    """The BVH joint tree: one node per joint, plus connectors under multi-child joints."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.parents: list[int] = []
        self.joint: list[int] = []  # the H36M17 joint each node sits at
        self.child: list[int] = []  # the H36M17 joint its bone points at (-1 for leaves)
        self.offsets: list[np.ndarray] = []

    @classmethod
    def build(cls, points: np.ndarray) -> _Tree:
        lengths = {
            c: _median_length(points[:, c] - points[:, p]) for p, c in H36M17.bones
        }
        tree = cls()

        def add(name: str, parent: int, joint: int, child: int, offset: np.ndarray) -> int:
            tree.names.append(name)
            tree.parents.append(parent)
            tree.joint.append(joint)
            tree.child.append(child)
            tree.offsets.append(offset)
            return len(tree.names) - 1

        def rest_offset(joint: int) -> np.ndarray:
            direction = Z_UP_TO_Y_UP @ np.array(_REST_DIRECTION_Z_UP[H36M17.joints[joint]])
            return lengths[joint] * direction

        def visit(joint: int, node_parent: int, offset: np.ndarray) -> None:
            children = [c for p, c in H36M17.bones if p == joint]
            only_child = children[0] if len(children) == 1 else -1
            node = add(H36M17.joints[joint], node_parent, joint, only_child, offset)
            if len(children) == 1:
                visit(children[0], node, rest_offset(children[0]))
            for child in children if len(children) > 1 else []:
                name = f"{H36M17.joints[joint]}.{H36M17.joints[child]}"
                connector = add(name, node, joint, child, np.zeros(3))
                visit(child, connector, rest_offset(child))

        visit(0, -1, np.zeros(3))
        return tree

    def global_rotations(self, points: np.ndarray) -> np.ndarray:
        """(T, nodes, 3, 3) rotations taking each node's rest frame to its frame in the pose."""
        n_frames = len(points)
        rotations = np.zeros((n_frames, len(self.names), 3, 3))
        identity = np.broadcast_to(np.eye(3), (n_frames, 3, 3))
        for node, parent in enumerate(self.parents):
            parent_rotation = identity if parent < 0 else rotations[:, parent]
            kids = [k for k, p in enumerate(self.parents) if p == node]
            if self.child[node] >= 0:
                rest = self._rest_bone(node)
                bone = points[:, self.child[node]] - points[:, self.joint[node]]
                local = np.einsum("tji,tj->ti", parent_rotation, bone)  # into the parent's frame
                rotations[:, node] = parent_rotation @ _swing(rest, local)
            elif kids:
                # Several bones: the best common rotation (connectors below fix the rest).
                rest = np.stack([self._rest_bone(k) for k in kids])
                bones = np.stack(
                    [points[:, self.child[k]] - points[:, self.joint[k]] for k in kids], axis=1
                )
                rotations[:, node] = _best_rotation(rest, bones)
            else:
                rotations[:, node] = parent_rotation  # a leaf has no bone of its own to turn
        return rotations

    def _rest_bone(self, node: int) -> np.ndarray:
        kid = next(k for k, p in enumerate(self.parents) if p == node)
        return self.offsets[kid]

    def motion(self, root: np.ndarray, rotations: np.ndarray, frame_time: float) -> Motion:
        names, parents, offsets, channels = [], [], [], []
        columns = [root]
        end_sites = []
        for node, parent in enumerate(self.parents):
            names.append(self.names[node])
            parents.append(parent)
            offsets.append(self.offsets[node])
            channels.append(
                [f"{a}position" for a in "XYZ"] * (parent < 0)
                + [f"{a}rotation" for a in CHANNEL_ORDER]
            )
            parent_rotation = rotations[:, parent] if parent >= 0 else np.eye(3)
            local = np.swapaxes(parent_rotation, -1, -2) @ rotations[:, node]
            columns.append(_euler_zxy_degrees(local))
            if not any(p == node for p in self.parents):
                end_sites.append((node, _END_SITE_FRACTION * self.offsets[node]))
        # End sites go last in these lists; format_bvh writes them under their joints.
        for node, offset in end_sites:
            names.append(f"{self.names[node]} End")
            parents.append(node)
            offsets.append(offset)
            channels.append([])
        return Motion(names, parents, np.array(offsets), channels, frame_time,
                      np.concatenate(columns, axis=1))


def _median_length(vectors: np.ndarray) -> float:
    lengths = np.linalg.norm(vectors, axis=-1)
    lengths = lengths[np.isfinite(lengths)]
    return float(np.median(lengths)) if lengths.size else 0.0


def _swing(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(T, 3, 3) smallest rotations turning the fixed `rest` direction onto each (T, 3) target;
    identity where the target is unknown or zero."""
    a = rest / max(np.linalg.norm(rest), 1e-12)
    norms = np.linalg.norm(target, axis=-1, keepdims=True)
    valid = np.isfinite(norms[:, 0]) & (norms[:, 0] > 1e-12)
    b = np.where(valid[:, None], target / np.where(valid[:, None], norms, 1.0), a)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.clip(b @ a, -1.0, 1.0)
    # Opposite directions: turn half a circle about any axis perpendicular to `rest`.
    fallback = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
    axis = np.where((sin < 1e-9)[:, None], fallback, axis)
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(sin, cos)
    return _rodrigues(axis, angle)


def _rodrigues(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


def _best_rotation(rest: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """(K, 3) rest directions, (T, K, 3) bones -> (T, 3, 3) rotation best turning one onto the
    other (Kabsch on unit vectors, reflection excluded); unknown bones are left out."""
    unit_rest = rest / np.maximum(np.linalg.norm(rest, axis=-1, keepdims=True), 1e-12)
    norms = np.linalg.norm(bones, axis=-1, keepdims=True)
    unit = np.nan_to_num(bones / np.maximum(norms, 1e-12))
    covariance = np.einsum("tki,kj->tij", unit, unit_rest)
    u, _, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))
    u[:, :, -1] *= np.where(sign == 0, 1.0, sign)[:, None]
    return u @ vt


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(np.shape(angle) + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1.0
    m[..., i, i], m[..., j, j] = c, c
    m[..., i, j], m[..., j, i] = -s, s
    return m


def _euler_zxy_degrees(r: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations R = Rz(a) Rx(b) Ry(c) -> (T, 3) degrees (a, b, c), unwrapped in time
    so that curves do not jump by 360°."""
    b = np.arcsin(np.clip(r[:, 2, 1], -1.0, 1.0))
    locked = np.abs(r[:, 2, 1]) > 1.0 - 1e-9
    a = np.where(locked, np.arctan2(r[:, 1, 0], r[:, 0, 0]), np.arctan2(-r[:, 0, 1], r[:, 1, 1]))
    c = np.where(locked, 0.0, np.arctan2(-r[:, 2, 0], r[:, 2, 2]))
    return np.rad2deg(np.unwrap(np.stack([a, b, c], axis=1), axis=0))


def format_bvh(motion: Motion) -> str:
    lines = ["HIERARCHY"]

    def write(node: int, depth: int) -> None:
        pad = "  " * depth
        offset = "OFFSET " + " ".join(f"{v:.6f}" for v in motion.offsets[node])
        if not motion.channels[node] and motion.names[node].endswith(" End"):
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}  {offset}", f"{pad}}}"])
            return
        kind = "ROOT" if motion.parents[node] < 0 else "JOINT"
        channels = motion.channels[node]
        lines.extend([
            f"{pad}{kind} {motion.names[node]}", f"{pad}{{", f"{pad}  {offset}",
            f"{pad}  CHANNELS {len(channels)} {' '.join(channels)}",
        ])
        for child, parent in enumerate(motion.parents):
            if parent == node:
                write(child, depth + 1)
        lines.append(f"{pad}}}")

    write(0, 0)
    lines += ["MOTION", f"Frames: {len(motion.values)}", f"Frame Time: {motion.frame_time:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in motion.values]
    return "\n".join(lines) + "\n"


def read_bvh(path: str | Path) -> Motion:
    """Parse a BVH file (any joint names and channel orders). Joints are listed depth-first
    in file order, so channel values are consumed in the same order as they appear."""
    path = Path(path)
    try:
        tokens = path.read_text(encoding="utf-8", errors="replace").split()
    except OSError as error:
        raise ExportError(path, f"cannot read the BVH file: {error.strerror or error}")
    try:
        return _parse(tokens)
    except (IndexError, ValueError) as error:
        raise ExportError(path, f"not a valid BVH file ({error or 'ends too early'})")


def _parse(tokens: list[str]) -> Motion:
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    i = tokens.index("HIERARCHY") + 1
    while tokens[i] != "MOTION":
        token = tokens[i]
        if token in ("ROOT", "JOINT") or token == "End":
            name = tokens[i + 1] if token != "End" else f"{names[stack[-1]]} End"
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            i += 2
        elif token == "{":
            stack.append(len(names) - 1)
            i += 1
        elif token == "}":
            stack.pop()
            i += 1
        elif token == "OFFSET":
            offsets[stack[-1]] = [float(v) for v in tokens[i + 1 : i + 4]]
            i += 4
        elif token == "CHANNELS":
            count = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2 : i + 2 + count]
            i += 2 + count
        else:
            raise ValueError(f"unexpected '{token}' in the hierarchy")
    n_frames = int(tokens[tokens.index("Frames:", i) + 1])
    frame_time_at = tokens.index("Time:", i) + 1
    width = sum(len(c) for c in channels)
    values = np.array(tokens[frame_time_at + 1 :], dtype=np.float64)
    if values.size != n_frames * width:
        raise ValueError(f"{values.size} motion values for {n_frames} frames of {width} channels")
    return Motion(names, parents, np.array(offsets), channels, float(tokens[frame_time_at]),
                  values.reshape(n_frames, width))
