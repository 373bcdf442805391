"""Generation that always gives a human body: decoding onto a body, named directions, a
plausibility score, editing by dragging joints, even interpolation.

The decoder predicts 17 joint positions, so nothing keeps its bones at a body's lengths (on val
poses, decoding a pose's own embedding changes them by -10 %..+7 %, 3 sigma out along a principal
axis by -42 %..+44 %, 5th-95th percentile; docs/GENERATION.md). Here the
decoded pose only gives the bone *directions*; the bones take a body's lengths and the skeleton
is rebuilt from the pelvis outwards (``onto_body``), so every generated pose is that body.

Everything is in canonical units (torso lengths, ``vvipe_core.canonical``). The façade
(``VVIPE.decode(z, body=)``, ``edit``, ``interpolate``) is the way in; the gallery-based parts
(``Plausibility``, ``NamedDirections``) are built from any set of poses and their embeddings.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from vvipe_core.canonical import canonicalize
from vvipe_core.errors import PoseInputError
from vvipe_core.index import PoseIndex
from vvipe_core.skeleton import H36M17

BONES = np.asarray(H36M17.bones)  # (16, 2) parent, child; bone b ends at joint b + 1
# The body generation uses when given none: median bone lengths (bone order) of the train split's
# canonical poses, np.median(bone_lengths(canonicalize(train.poses[::4])), axis=0), 62,069 poses.
NOMINAL_BONES = np.array([0.1692, 0.7097, 0.8750, 0.1692, 0.7097, 0.8750, 0.4470, 0.5530,
                          0.3031, 0.3327, 0.2412, 0.5439, 0.4564, 0.2412, 0.5439, 0.4564],
                         dtype=np.float32)
TORSO_JOINTS = ("pelvis", "spine", "thorax")
_EPS = 1e-6


def _root_paths() -> np.ndarray:
    """(17, 16): entry [j, b] is 1 where bone b lies on the path from the pelvis to joint j, so
    that joints = pelvis + paths @ bone vectors."""
    return np.array([[child in ancestors(j) for _, child in BONES] for j in range(H36M17.n)],
                    dtype=np.float32)


def ancestors(joint: int) -> set[int]:
    """The joint itself and every joint between it and the pelvis."""
    chain = set()
    while joint >= 0:
        chain.add(joint)
        joint = H36M17.parents[joint]
    return chain


ROOT_PATHS = _root_paths()


# -- bodies ------------------------------------------------------------------------------------
def bone_lengths(poses: np.ndarray) -> np.ndarray:
    """(..., 17, 3) -> (..., 16) bone lengths, in bone order."""
    poses = np.asarray(poses)
    return np.linalg.norm(poses[..., BONES[:, 1], :] - poses[..., BONES[:, 0], :], axis=-1)


def body_bones(body: np.ndarray | None) -> np.ndarray:
    """A body's bone lengths in canonical units (16,): `body` is one pose (17, 3) or several of
    one person (N, 17, 3), in any frame and unit (the median over its poses); None -> the
    nominal body."""
    if body is None:
        return NOMINAL_BONES.copy()
    body = np.asarray(body, dtype=np.float64)
    if body.shape[-2:] != (H36M17.n, 3) or body.ndim not in (2, 3):
        raise PoseInputError(None, f"a body is (17, 3) or (N, 17, 3) poses, got {body.shape}")
    lengths = bone_lengths(canonicalize(body.reshape(-1, H36M17.n, 3)))
    if not np.isfinite(lengths).all() or (lengths <= 0).any():
        raise PoseInputError(None, "a body needs finite poses with every bone longer than zero")
    return np.median(lengths, axis=0).astype(np.float32)


def onto_body(poses: torch.Tensor, bones: torch.Tensor) -> torch.Tensor:
    """(N, 17, 3) poses -> the same bone directions with lengths `bones` (16,), rebuilt from
    each pose's pelvis outwards. Differentiable (``edit`` optimises through it)."""
    vectors = poses[:, BONES[:, 1]] - poses[:, BONES[:, 0]]
    units = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    paths = torch.as_tensor(ROOT_PATHS, dtype=poses.dtype, device=poses.device)
    return poses[:, :1] + torch.einsum("jb,nbd->njd", paths, units * bones[:, None])


# -- staying near the data -----------------------------------------------------------------------
@dataclass(frozen=True)
class Plausibility:
    """How far an embedding lies from the data: the mean distance to its k nearest reference
    embeddings (e.g. the gallery's), and as a score, the share of the reference embeddings that
    lie at least as far from *their* k nearest others (1: in the thick of the data, 0: farther
    out than every reference pose)."""

    index: PoseIndex  # exact search over the reference embeddings (N, D)
    spread: np.ndarray  # (N,) sorted leave-one-out kNN distances of the reference
    k: int = 8

    @classmethod
    def from_embeddings(cls, embeddings: np.ndarray, k: int = 8) -> Plausibility:
        reference = np.asarray(embeddings, dtype=np.float32)
        k = max(1, min(k, len(reference) - 1))
        index = PoseIndex(reference.shape[1])
        index.add(reference)
        squared, _ = index.search(reference, k + 1)  # the nearest is the embedding itself
        spread = np.sort(np.sqrt(np.maximum(squared[:, 1:], 0.0)).mean(axis=1))
        return cls(index, spread.astype(np.float32), k)

    def distance(self, z: np.ndarray) -> np.ndarray:
        """(..., D) -> (...,) mean distance to the k nearest reference embeddings."""
        z = np.asarray(z, dtype=np.float32)
        squared, _ = self.index.search(z.reshape(-1, z.shape[-1]), self.k)
        return np.sqrt(np.maximum(squared, 0.0)).mean(axis=1).reshape(z.shape[:-1])

    def score(self, z: np.ndarray) -> np.ndarray:
        """(..., D) -> (...,) in [0, 1]."""
        rank = np.searchsorted(self.spread, self.distance(z), side="left")
        return 1.0 - rank / len(self.spread)

    def radius(self, quantile: float) -> float:
        """The kNN distance that `quantile` of the reference embeddings stay within."""
        return float(np.quantile(self.spread, quantile))

    def project(self, z: np.ndarray, toward: np.ndarray, quantile: float = 0.98) -> np.ndarray:
        """`z` (D,) pulled back along the straight line to `toward` (D,) until it lies within
        the `quantile` radius (or as near as `toward` itself). A walk from `toward` then stops
        at the edge of the data instead of leaving it, and moves continuously."""
        z, toward = np.asarray(z, np.float32), np.asarray(toward, np.float32)
        limit = max(self.radius(quantile), float(self.distance(toward)))
        if self.distance(z) <= limit:
            return z
        inside, outside = 0.0, 1.0  # bisection on the fraction of the way from `toward` to z
        for _ in range(20):
            middle = 0.5 * (inside + outside)
            if self.distance(toward + middle * (z - toward)) <= limit:
                inside = middle
            else:
                outside = middle
        return (toward + inside * (z - toward)).astype(np.float32)


# -- named directions ------------------------------------------------------------------------
@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    unit: str
    meaning: str  # what the slider changes, for its tooltip


def _index(*names: str) -> list[int]:
    return H36M17.indices(list(names))


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Degrees between vectors (..., 3)."""
    cos = (u * v).sum(-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1),
                                       _EPS)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _bend(poses: np.ndarray, a: str, b: str, c: str) -> np.ndarray:
    """How far the limb a-b-c is bent at b, in degrees (0: straight)."""
    i, j, k = _index(a, b, c)
    return _angle(poses[..., j, :] - poses[..., i, :], poses[..., k, :] - poses[..., j, :])


def _raise(poses: np.ndarray, shoulder: str, elbow: str) -> np.ndarray:
    i, j = _index(shoulder, elbow)
    return _angle(poses[..., j, :] - poses[..., i, :], np.array([0.0, 0.0, -1.0]))


def _thigh_forward(poses: np.ndarray, hip: str, knee: str) -> np.ndarray:
    """Degrees the thigh swings forward (+y) from hanging down (-z), in the sagittal plane."""
    i, j = _index(hip, knee)
    thigh = poses[..., j, :] - poses[..., i, :]
    return np.degrees(np.arctan2(thigh[..., 1], -thigh[..., 2]))


def _twist(poses: np.ndarray) -> np.ndarray:
    left, right = _index("l_shoulder", "r_shoulder")
    line = poses[..., right, :] - poses[..., left, :]
    return np.degrees(np.arctan2(line[..., 1], line[..., 0]))


def _stance(poses: np.ndarray) -> np.ndarray:
    left, right = _index("l_ankle", "r_ankle")
    return np.linalg.norm((poses[..., right, :] - poses[..., left, :])[..., :2], axis=-1)


FEATURES: tuple[tuple[Feature, Callable[[np.ndarray], np.ndarray]], ...] = (
    (Feature("l_knee", "Left knee bend", "°", "bends the left knee (0° = straight leg)"),
     lambda p: _bend(p, "l_hip", "l_knee", "l_ankle")),
    (Feature("r_knee", "Right knee bend", "°", "bends the right knee (0° = straight leg)"),
     lambda p: _bend(p, "r_hip", "r_knee", "r_ankle")),
    (Feature("l_arm", "Left arm raise", "°",
             "raises the left upper arm (0° = hanging down, 90° = level, 180° = straight up)"),
     lambda p: _raise(p, "l_shoulder", "l_elbow")),
    (Feature("r_arm", "Right arm raise", "°",
             "raises the right upper arm (0° = hanging down, 90° = level, 180° = straight up)"),
     lambda p: _raise(p, "r_shoulder", "r_elbow")),
    (Feature("l_elbow", "Left elbow bend", "°", "bends the left elbow (0° = straight arm)"),
     lambda p: _bend(p, "l_shoulder", "l_elbow", "l_wrist")),
    (Feature("r_elbow", "Right elbow bend", "°", "bends the right elbow (0° = straight arm)"),
     lambda p: _bend(p, "r_shoulder", "r_elbow", "r_wrist")),
    (Feature("lean", "Torso lean", "°",
             "bends the torso forward over the legs (the thighs' mean angle forward of the "
             "torso axis; 0° = upright, 90° = folded at the hips or sitting)"),
     lambda p: 0.5 * (_thigh_forward(p, "l_hip", "l_knee") + _thigh_forward(p, "r_hip", "r_knee"))),
    (Feature("stride", "Stride", "°",
             "swings the left thigh forward and the right one back (negative: the other way)"),
     lambda p: _thigh_forward(p, "l_hip", "l_knee") - _thigh_forward(p, "r_hip", "r_knee")),
    (Feature("twist", "Twist", "°",
             "turns the shoulders against the hips (positive: the right shoulder forward)"),
     _twist),
    (Feature("stance", "Stance width", " torso",
             "spreads the feet apart (ankle distance on the ground plane, in torso lengths)"),
     _stance),
)


def pose_features(poses: np.ndarray) -> np.ndarray:
    """(..., 17, 3) canonical poses -> (..., K) the FEATURES, in their units."""
    poses = np.asarray(poses, dtype=np.float64)
    return np.stack([measure(poses) for _, measure in FEATURES], axis=-1).astype(np.float32)


@dataclass(frozen=True)
class NamedDirections:
    """Directions in the embedding that change one pose feature each (knee bend, arm raise...).

    Fitted on poses and their embeddings by two linear regressions: features on latents (the
    `readout`: what a latent's features are, in the features' units) and latents on features
    (the latent change that goes with a feature change in the data, others held fixed). The
    `steps` are those data directions scaled so that moving the latent by ``delta @ steps``
    changes the readout by exactly `delta`. Same interface as ``gallery.LatentAxes``.
    """

    features: tuple[Feature, ...]
    mean: np.ndarray  # (D,) of the embeddings
    feature_mean: np.ndarray  # (K,)
    readout: np.ndarray  # (K, D)
    steps: np.ndarray  # (K, D) latent change per unit of each feature
    scale: np.ndarray  # (K,) standard deviation of each feature in the data
    low: np.ndarray  # (K,) 1st percentile of each feature
    high: np.ndarray  # (K,) 99th percentile

    def coordinates(self, z: np.ndarray) -> np.ndarray:
        """(..., D) embeddings -> (..., K) the features their poses have (linear readout)."""
        z = np.asarray(z, dtype=np.float32)
        return self.feature_mean + (z - self.mean) @ self.readout.T

    def move_to(self, base: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
        """`base` (D,) moved along the directions until its features read `coordinates`."""
        delta = np.asarray(coordinates, dtype=np.float32) - self.coordinates(base)
        return (base + delta @ self.steps).astype(np.float32)


def named_directions(poses: np.ndarray, embeddings: np.ndarray, ridge: float = 1e-3
                     ) -> NamedDirections:
    """Fit the FEATURES' directions on canonical poses (N, 17, 3) and their embeddings (N, D)."""
    features = pose_features(poses).astype(np.float64)
    z = np.asarray(embeddings, dtype=np.float64)
    f_mean, f_scale = features.mean(0), np.maximum(features.std(0), _EPS)
    z_mean = z.mean(0)
    f, zc = (features - f_mean) / f_scale, z - z_mean
    n = len(z)
    # Standardised features on latents (K, D), and latents on standardised features (K, D).
    readout = np.linalg.solve(zc.T @ zc + ridge * n * np.eye(z.shape[1]), zc.T @ f).T
    regressed = np.linalg.solve(f.T @ f + ridge * n * np.eye(f.shape[1]), f.T @ zc)
    # Rescale the data directions so that readout @ steps.T = identity (as near as it gets when
    # the embedding has fewer dimensions than there are features).
    mixing = np.linalg.pinv(readout @ regressed.T)
    steps = (mixing.T @ regressed) / f_scale[:, None]
    low, high = np.percentile(features, [1, 99], axis=0)
    as32 = lambda a: np.asarray(a, dtype=np.float32)
    return NamedDirections(tuple(feature for feature, _ in FEATURES), as32(z_mean), as32(f_mean),
                           as32(readout * f_scale[:, None]), as32(steps), as32(f_scale),
                           as32(low), as32(high))


# -- editing -------------------------------------------------------------------------------
@dataclass(frozen=True)
class EditSettings:
    """The latent optimisation behind a joint drag: weights of the squared joint errors (torso
    units), minimised by damped Gauss-Newton.

    The prior is in pose space: the joints away from the dragged limbs keep their places, and
    the decoder keeps the pose on its learned manifold. A pull towards the starting latent
    (tried at 1e-5 and 1e-4) fought the drag: on 60 val drags it cut the share reaching their
    target from 98 % to 87 % / 82 % and moved the other joints more, not less."""

    iterations: int = 4
    pinned: float = 10.0  # keep pinned joints where they were
    rest: float = 0.02  # keep the joints away from the dragged limbs where they were (mean)
    damping: float = 1e-3  # Levenberg-Marquardt: trust the linearisation a little less


def limb(joint: int) -> set[int]:
    """The joints a drag of `joint` may move freely: its chain up to the torso and below it."""
    torso = set(_index(*TORSO_JOINTS))
    chain = {j for j in ancestors(joint) if j not in torso}
    below = {j for j in range(H36M17.n) if joint in ancestors(j)}
    return chain | below


def edit_latent(decode: Callable[[torch.Tensor], torch.Tensor], z: np.ndarray,
                targets: Mapping[str, np.ndarray],
                pinned: Iterable[str] | Mapping[str, np.ndarray] = (),
                bones: np.ndarray | None = None, settings: EditSettings = EditSettings()
                ) -> np.ndarray:
    """Optimise `z` (D,) so the body decoded from it puts the `targets` joints (name -> (3,)
    canonical position) there, `pinned` joints where they are (or, given as a mapping, at
    those positions: where the user sees them), and moves little else.

    A fixed number of damped Gauss-Newton steps on the weighted joint errors (a drag calls this
    on every mouse move, so the cost is fixed). The Jacobian comes from forward differences,
    all D + 1 latents decoded as one batch: about 10x cheaper than autograd's 51 backward
    passes through the decoder at batch size 1, which is all overhead (central differences
    cost twice as much for the same accuracy of the edits)."""
    start = torch.as_tensor(np.asarray(z, dtype=np.float32))
    if not targets:
        return start.numpy().copy()
    target_ids = _index(*targets)
    held = {name: np.asarray(pinned[name], np.float32) for name in pinned} \
        if isinstance(pinned, Mapping) else {}
    pinned_ids = [j for j in _index(*pinned) if j not in target_ids]
    free = set().union(*(limb(j) for j in target_ids))
    rest_ids = [j for j in range(H36M17.n) if j not in free and j not in pinned_ids]
    lengths = torch.as_tensor(body_bones(None) if bones is None else bones)
    goal = torch.as_tensor(np.stack([np.asarray(targets[name], dtype=np.float32)
                                     for name in targets]))

    def bodies(latents: torch.Tensor) -> torch.Tensor:
        return onto_body(decode(latents), lengths).double()

    with torch.no_grad():
        before = bodies(start[None])[0]
        hold = before.clone()  # where the pinned joints stay: where they were, or as given
        for name, at in held.items():
            hold[H36M17.index(name)] = torch.as_tensor(at, dtype=hold.dtype)
        terms = [(ids, where, np.sqrt(w)) for ids, where, w in (
            (target_ids, goal.double(), 1.0), (pinned_ids, hold[pinned_ids], settings.pinned),
            (rest_ids, before[rest_ids], settings.rest / max(1, len(rest_ids)))) if ids]

        def residuals(poses: torch.Tensor) -> torch.Tensor:  # (M, 17, 3) -> (M, R)
            return torch.cat([w * (poses[:, ids] - where).flatten(1) for ids, where, w in terms],
                             dim=1)

        dim, h = len(start), 1e-2
        probes = h * torch.eye(dim)
        latent = start.clone()
        for _ in range(settings.iterations):
            r = residuals(bodies(torch.cat([latent[None], latent + probes])))
            jacobian = (r[1:] - r[0]).T / h  # (R, D)
            normal = jacobian.T @ jacobian
            damping = settings.damping * float(normal.diagonal().mean()) + 1e-9
            gradient = jacobian.T @ r[0]
            step = torch.linalg.solve(normal + damping * torch.eye(dim, dtype=normal.dtype),
                                      gradient)
            latent = latent - step.float()
    return latent.numpy().astype(np.float32)


# -- interpolation -----------------------------------------------------------------------------
def even_path(decode: Callable[[np.ndarray], np.ndarray], z_a: np.ndarray, z_b: np.ndarray,
              n: int, density: int = 16) -> np.ndarray:
    """`n` latents from `z_a` to `z_b` (both included) whose decoded poses are evenly spaced.

    The straight line between the latents is decoded at ``density * n`` points, and the `n`
    points are placed at equal arc lengths of the decoded motion (mean joint distance), so the
    motion neither crawls nor jumps where the decoder changes fast."""
    if n < 2:
        raise PoseInputError(None, f"an interpolation needs n >= 2 poses, got {n}")
    z_a, z_b = np.asarray(z_a, np.float32), np.asarray(z_b, np.float32)
    fractions = np.linspace(0.0, 1.0, max(density * n, 2), dtype=np.float32)
    line = z_a + fractions[:, None] * (z_b - z_a)
    poses = decode(line)
    steps = np.linalg.norm(np.diff(poses, axis=0), axis=-1).mean(axis=-1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    if arc[-1] <= 0:  # the same pose at both ends
        even = np.linspace(0.0, 1.0, n)
    else:
        even = np.interp(np.linspace(0.0, arc[-1], n), arc, fractions)
    return (z_a + even[:, None].astype(np.float32) * (z_b - z_a)).astype(np.float32)
