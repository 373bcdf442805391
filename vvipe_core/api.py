"""VVIPE: the one façade the GUI, the CLI and the evaluation use. Numpy in, numpy out."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from vvipe_core import checkpoint
from vvipe_core.bundled import bundled
from vvipe_core.cameras import keypoint_features, mirror_keypoint_features
from vvipe_core.canonical import Realign, canonicalize
from vvipe_core.config import TrainConfig
from vvipe_core.data import mirror_poses
from vvipe_core.errors import PoseInputError
from vvipe_core.generation import NOMINAL_BONES, body_bones, edit_latent, even_path, onto_body
from vvipe_core.models import PoseVAE, build_mapper
from vvipe_core.pose_windows import usable
from vvipe_core.refine import refine_latents
from vvipe_core.skeleton import H36M17, KP13, Skeleton, convert
from vvipe_core.train import select_device

BUNDLED_CHECKPOINT = bundled("checkpoints/vvipe.pt")


class VVIPE:
    """A trained V-VIPE model: embed 3D poses and 2D keypoints, decode, lift, sample.

    Joint order is our 17 joints (``vvipe_core.skeleton.H36M17``). 2D keypoints may also be
    given as the 13 detector keypoints (``KP13``). Missing 2D joints are NaN: the mapping
    network gets them as absent (zero position, presence flag 0; it is trained with missing
    keypoints when the config's ``keypoint_dropout`` > 0), and ``missing_mask`` tells which
    inputs were incomplete; ±inf counts as missing too.

    A bad pose spoils only itself: a 3D pose with a non-finite joint, 2D keypoints with fewer
    than two of the shoulders and hips, or a non-finite embedding give a NaN row in the output,
    the other rows are computed as usual. Wrong shapes or settings raise PoseInputError.
    """

    def __init__(self, ckpt: dict, device: str | torch.device = "auto", source: str = ""):
        self.config = TrainConfig.from_dict(ckpt["config"])
        self.source = source
        self.metrics = ckpt.get("metrics", {})
        self.realign = Realign(self.config.realign)
        self.vae = PoseVAE(self.config.model)
        self.mapper = build_mapper(self.config.model)
        try:
            self.vae.load_state_dict(ckpt["vae"], strict=True)
            self.mapper.load_state_dict(ckpt["mapper"], strict=True)
        except (RuntimeError, TypeError) as e:
            raise checkpoint.CheckpointError(source, f"weights do not fit the model ({e})") from e
        self.vae.eval()
        self.mapper.eval()
        self.device = torch.device("cpu")
        self.to(device)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | torch.device = "auto") -> VVIPE:
        """Load a checkpoint file (the bundled one when `path` is None)."""
        path = Path(path) if path is not None else BUNDLED_CHECKPOINT
        return cls(checkpoint.load(path), device=device, source=str(path))

    def to(self, device: str | torch.device) -> VVIPE:
        self.device = select_device(device)
        self.vae.to(self.device)
        self.mapper.to(self.device)
        return self

    @property
    def embedding_dim(self) -> int:
        return self.config.model.embedding_dim

    # -- 3D ----------------------------------------------------------------------------------
    def canonicalize(self, poses3d: np.ndarray) -> np.ndarray:
        """(N, 17, 3) poses in any frame and unit -> (N, 17, 3) canonical poses."""
        poses = _check(poses3d, H36M17.n, 3)
        return _per_pose(lambda p: canonicalize(p, self.realign), poses, usable(poses), (H36M17.n, 3))

    @torch.no_grad()
    def embed_3d(self, poses3d: np.ndarray) -> np.ndarray:
        """(N, 17, 3) poses in any frame (mm or any unit) -> (N, D) embedding means."""
        canonical = self.canonicalize(poses3d)
        return _per_pose(lambda c: self._numpy(self.vae.encode(self._tensor(c)).loc), canonical,
                         usable(canonical), (self.embedding_dim,))

    def decode(self, z: np.ndarray, body: np.ndarray | None = None) -> np.ndarray:
        """(N, D) embeddings -> (N, 17, 3) canonical poses. With `body` (a reference pose
        (17, 3) or poses of one person (N, 17, 3), any frame and unit) the poses keep the
        decoded bone directions with that body's bone lengths (vvipe_core.generation)."""
        return self._decode(z, None if body is None else body_bones(body))

    @torch.no_grad()
    def _decode(self, z: np.ndarray, bones: np.ndarray | None) -> np.ndarray:
        z = _check(z, self.embedding_dim)

        def decode(x: np.ndarray) -> np.ndarray:
            poses = self.vae.decode(self._tensor(x))
            if bones is not None:
                poses = onto_body(poses, self._tensor(bones))
            return self._numpy(poses)

        return _per_pose(decode, z, np.isfinite(z).all(axis=1), (H36M17.n, 3))

    # -- 2D ----------------------------------------------------------------------------------
    @torch.no_grad()
    def embed_2d(self, kp2d: np.ndarray, flip: bool = False) -> np.ndarray:
        """(N, 17, 2) or (N, 13, 2) keypoints in pixels of any image (NaN = missing) -> (N, D).

        `flip`: the encoder's embedding of the flip-averaged lift (see `lift`)."""
        if flip:
            return self.embed_3d(self.lift(kp2d, flip=True))
        kp = _check_2d(kp2d)

        def embed(rows: np.ndarray) -> np.ndarray:
            features, _ = keypoint_features(rows, _skeleton_2d(rows))
            return self._numpy(self.mapper(self._tensor(features)))

        return _per_pose(embed, kp, usable(kp), (self.embedding_dim,))

    def lift(
        self, kp2d: np.ndarray, refine: int = 0, confidence: np.ndarray | None = None,
        flip: bool = False,
    ) -> np.ndarray:
        """(N, 17|13, 2) keypoints -> (N, 17, 3) canonical 3D poses (embed_2d, then decode).

        `refine` > 0: that many steps fitting the embedding to the keypoints first, weighted by
        the detector's `confidence` (N, 17|13) (vvipe_core/refine.py, measured in RESULTS.md).
        `flip`: test-time flip averaging (VideoPose3D's): also lift the mirror image of the
        keypoints, mirror that pose back and average the two, for about twice the time. The
        result is exactly mirror-equivariant. Not combined with `refine`.
        """
        if flip:
            if refine > 0:
                raise ValueError("lift: flip averaging and refine are one or the other")
            return self._lift_flipped(kp2d)
        z = self.embed_2d(kp2d)
        ok = np.isfinite(z).all(axis=1)  # a pose that could not be embedded stays NaN
        if refine > 0 and ok.any():
            mine = None if confidence is None else np.asarray(confidence)[ok]
            z[ok] = refine_latents(self, _check_2d(kp2d)[ok], z[ok], mine, steps=refine)
        return self.decode(z)

    @torch.no_grad()
    def _lift_flipped(self, kp2d: np.ndarray) -> np.ndarray:
        kp = _check_2d(kp2d)

        def lift(rows: np.ndarray) -> np.ndarray:
            features, _ = keypoint_features(rows, _skeleton_2d(rows))
            both = self._tensor(np.concatenate([features, mirror_keypoint_features(features)]))
            plain, mirrored = np.split(self._numpy(self.vae.decode(self.mapper(both))), 2)
            return (plain + mirror_poses(mirrored)) / 2

        return _per_pose(lift, kp, usable(kp), (H36M17.n, 3))

    @staticmethod
    def missing_mask(kp2d: np.ndarray) -> np.ndarray:
        """(N, 17|13, 2) -> (N,) True where a keypoint the model uses was missing (NaN)."""
        kp = _check_2d(kp2d)
        return np.isnan(convert(kp, _skeleton_2d(kp), KP13)).any(axis=(-1, -2))

    # -- generation --------------------------------------------------------------------------
    def sample(self, z: np.ndarray, sigma: float = 0.5, n: int = 8, seed: int = 0) -> np.ndarray:
        """Variations around embeddings: (D,) -> (n, D); (N, D) -> (N, n, D). Gaussian noise of
        standard deviation `sigma` in the embedding (whose prior is N(0, I))."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim not in (1, 2) or z.shape[-1] != self.embedding_dim:
            raise PoseInputError(None, f"expected embeddings of shape ({self.embedding_dim},) or "
                                 f"(N, {self.embedding_dim}), got {z.shape}")
        if not (math.isfinite(sigma) and sigma >= 0) or n < 1:
            raise PoseInputError(None, f"sigma must be a number ≥ 0 and n ≥ 1, got {sigma}, {n}")
        rng = np.random.default_rng(seed)
        noise = rng.normal(size=z.shape[:-1] + (n, z.shape[-1])).astype(np.float32)
        spoilt = ~np.isfinite(z).all(axis=-1)  # a bad embedding spoils all its samples
        return np.where(spoilt[..., None, None], np.nan, z[..., None, :] + sigma * noise)

    def edit(self, z: np.ndarray, targets: dict[str, np.ndarray],
             pinned: list[str] | tuple[str, ...] | dict[str, np.ndarray] | None = None,
             body: np.ndarray | None = None) -> np.ndarray:
        """Drag joints: `z` (D,) -> z' (D,) whose pose, decoded onto `body` (None: the nominal
        body), has the `targets` joints (``H36M17`` name -> canonical (3,)) there, the `pinned`
        joints where they were (names) or at given positions (name -> (3,)), and the rest of
        the body little moved."""
        z = _check(np.asarray(z)[None], self.embedding_dim)[0]
        unknown = sorted((set(targets) | set(pinned or ())) - set(H36M17.joints))
        if unknown:
            raise PoseInputError(None, f"unknown joints {unknown}; the joints are "
                                 f"{H36M17.joints}")
        return edit_latent(self._decode_cpu, z, targets, pinned or (), body_bones(body))

    def interpolate(self, z_a: np.ndarray, z_b: np.ndarray, n: int) -> np.ndarray:
        """`n` embeddings (n, D) from `z_a` to `z_b` (D,) whose poses are evenly spaced."""
        ends = _check(np.stack([z_a, z_b]), self.embedding_dim)
        return even_path(lambda z: self._decode(z, NOMINAL_BONES), ends[0], ends[1], n)

    def _decode_cpu(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z.to(self.device)).cpu()

    # -- helpers -----------------------------------------------------------------------------
    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

    @staticmethod
    def _numpy(x: torch.Tensor) -> np.ndarray:
        return x.detach().cpu().numpy()


def _check(x: np.ndarray, *trailing: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-len(trailing):] != trailing or x.ndim != len(trailing) + 1:
        raise PoseInputError(None, f"expected shape (N, {', '.join(map(str, trailing))}), "
                             f"got {x.shape}")
    return x


def _check_2d(kp: np.ndarray) -> np.ndarray:
    """Keypoints as float64, a non-finite coordinate marking its joint missing (NaN)."""
    kp = np.asarray(kp, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] not in ((H36M17.n, 2), (KP13.n, 2)):
        raise PoseInputError(None, "expected keypoints of shape (N, 17, 2) or (N, 13, 2), "
                             f"got {kp.shape}")
    return np.where(np.isfinite(kp).all(axis=-1, keepdims=True), kp, np.nan)


def _per_pose(compute, x: np.ndarray, ok: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`compute` on the usable rows of `x` only; NaN rows where a pose is unusable."""
    if ok.all():
        return compute(x)
    done = compute(x[ok]) if ok.any() else np.zeros((0, *shape), np.float32)
    out = np.full((len(x), *shape), np.nan, dtype=done.dtype)
    out[ok] = done
    return out


def _skeleton_2d(kp: np.ndarray) -> Skeleton:
    return H36M17 if np.shape(kp)[1] == H36M17.n else KP13
