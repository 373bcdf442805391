"""Baselines for the evaluation, trained on the same poses and cameras as V-VIPE.

- ``lifter``: a direct 2D -> canonical 3D regressor of the mapper's size; retrieval by the
  distance between lifted 3D poses (lift-then-compare).
- ``prvipe``: Pr-VIPE as its official code trains it (`vvipe_core/prvipe.py`): 2D -> Gaussian
  embedding. ``embed_2d`` gives the means (retrieval by the distance between means);
  ``embed_distribution`` gives means and standard deviations for retrieval by the sample
  distance.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vvipe_core import checkpoint, prvipe
from vvipe_core.cameras import keypoint_features
from vvipe_core.canonical import Realign, canonicalize
from vvipe_core.config import ConfigError, TrainConfig
from vvipe_core.data import load_poses
from vvipe_core.losses import reconstruction
from vvipe_core.models import KEYPOINT_DIM, POSE_DIM, ResidualMLP
from vvipe_core.skeleton import H36M17
from vvipe_core.train import TrainEvent, augmented_world_poses, camera_keypoints, select_device

FORMAT = "vvipe-baseline"
KINDS = ("lifter", "prvipe")


class Lifter(nn.Module):
    """2D keypoint features (N, 13, 3) -> canonical 3D pose (N, 17, 3), the mapper's size."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.net = ResidualMLP(KEYPOINT_DIM, POSE_DIM, cfg.model)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features.flatten(1)).view(-1, H36M17.n, 3)


def _network(kind: str, cfg: TrainConfig) -> nn.Module:
    if kind == "lifter":
        return Lifter(cfg)
    if kind == "prvipe":
        return prvipe.PrVipe(cfg)
    raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(KINDS)}")


def train_baseline(kind: str, cfg: TrainConfig, out: str | Path, callback=None) -> Path:
    """Train a baseline on the config's train split and cameras; writes one checkpoint file."""
    if kind == "prvipe":
        return prvipe.train(cfg, out, callback, wrap=lambda state: _wrap(kind, cfg, state))
    _network(kind, cfg)  # an unknown kind fails before any work
    with torch.random.fork_rng(devices=[]):  # seeded, the caller's RNG untouched
        return _train_baseline(kind, cfg, out, callback)


def _train_baseline(kind: str, cfg: TrainConfig, out: str | Path, callback) -> Path:
    device = select_device(cfg.device)
    torch.manual_seed(cfg.seed)
    net = _network(kind, cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.mapper_lr)
    train = load_poses(cfg.train_data).poses
    n_steps = len(train) // cfg.batch_size
    n_steps = min(n_steps, cfg.steps_per_epoch) if cfg.steps_per_epoch else n_steps
    epochs, start = cfg.mapper_epochs, time.monotonic()

    def tensor(x):
        return torch.as_tensor(x, dtype=torch.float32, device=device)

    def features(world, rng):
        kp = camera_keypoints(world, cfg.cameras, rng, cfg.noise_px, cfg.keypoint_dropout)
        return tensor(keypoint_features(kp, H36M17)[0])

    net.train()
    for epoch in range(epochs):
        order = np.random.default_rng([cfg.seed, 2, epoch]).permutation(len(train))
        for step in range(n_steps):
            rng = np.random.default_rng([cfg.seed, 2, epoch, step])
            world = augmented_world_poses(train[order[step * cfg.batch_size:][: cfg.batch_size]], cfg, rng)
            target = tensor(canonicalize(world, cfg.realign))
            loss = reconstruction(net(features(world, rng)), target)
            logs = {"pose": loss.item()}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if callback and (step % 10 == 0 or step + 1 == n_steps):
                callback(TrainEvent(kind, epoch, epochs, step + 1, n_steps, logs,
                                    elapsed_s=time.monotonic() - start))
    state = {"weights": {k: v.detach().cpu() for k, v in net.state_dict().items()},
             "steps": epochs * n_steps, "train_s": time.monotonic() - start}
    return checkpoint.save(_wrap(kind, cfg, state), out)


def _wrap(kind: str, cfg: TrainConfig, state: dict) -> dict:
    """The baseline file: format marker, kind, config, weights, steps and training seconds."""
    return {"format": FORMAT, "kind": kind, "config": cfg.to_dict()} | state


class BaselineModel:
    """A trained baseline with the façade's embed_2d / lift (lift is None for prvipe)."""

    def __init__(self, path: str | Path, device: str = "cpu"):
        path = Path(path)
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise checkpoint.CheckpointError(path, f"not a readable baseline ({type(e).__name__})") from e
        if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
            raise checkpoint.CheckpointError(path, "not a baseline checkpoint")
        try:
            self.kind, self.config = ckpt["kind"], TrainConfig.from_dict(ckpt["config"])
            self.net = _network(self.kind, self.config)
            self.net.load_state_dict(ckpt["weights"], strict=True)
        except KeyError as e:
            raise checkpoint.CheckpointError(path, f"no '{e.args[0]}' (a damaged baseline)") from None
        except ConfigError as e:
            raise checkpoint.CheckpointError(path, f"config: {e.reason}") from None
        except (RuntimeError, TypeError) as e:
            raise checkpoint.CheckpointError(path, f"weights do not fit the model ({e})") from e
        self.source = str(path)
        self.realign = Realign(self.config.realign)
        self.device = select_device(device)
        self.net.to(self.device).eval()
        self.steps, self.train_s = ckpt.get("steps"), ckpt.get("train_s")
        self.history = ckpt.get("history", [])

    @torch.no_grad()
    def _run(self, kp2d: np.ndarray):
        features = torch.as_tensor(keypoint_features(kp2d, H36M17)[0], device=self.device)
        return self.net(features)

    def embed_distribution(self, kp2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pr-VIPE's Gaussian embeddings: means and standard deviations, (N, D) each."""
        if self.kind != "prvipe":
            raise ValueError(f"a {self.kind} baseline has no embedding distribution")
        mean, std = self._run(kp2d)
        return mean.cpu().numpy(), std.cpu().numpy()

    def embed_2d(self, kp2d: np.ndarray) -> np.ndarray:
        """Pr-VIPE: the embedding means; lifter: the lifted 3D pose, flattened."""
        out = self._run(kp2d)
        return (out[0] if self.kind == "prvipe" else out.flatten(1)).cpu().numpy()

    def lift(self, kp2d: np.ndarray) -> np.ndarray | None:
        return self._run(kp2d).cpu().numpy() if self.kind == "lifter" else None


class SampleDistanceMethod:
    """Pr-VIPE retrieval by its own sample distance (-log mean matching probability over
    sample pairs) instead of the distance between means. An exhaustive search would score
    every query against every gallery item with 20 x 20 sample pairs; this re-ranks the
    `candidates` nearest by means (exact whenever the sample-distance neighbours are among
    them). With the protocol's 20, Hit@20 is the means' by construction and Hit@1 and Hit@10
    show what the sample distance changes. Embeddings are (N, 2D): means, then standard
    deviations."""

    def __init__(self, model: BaselineModel, candidates: int = 20, seed: int = 0):
        self.model, self.candidates, self.seed = model, candidates, seed
        self.name = "prvipe-samples"

    def embed(self, kp2d: np.ndarray) -> np.ndarray:
        return np.concatenate(self.model.embed_distribution(kp2d), axis=1)

    def lift(self, kp2d: np.ndarray) -> None:
        return None

    def neighbours(self, queries: np.ndarray, gallery: np.ndarray, k: int) -> np.ndarray:
        from vvipe_core.index import PoseIndex

        mq, sq = np.split(queries, 2, axis=1)
        mg, sg = np.split(gallery, 2, axis=1)
        index = PoseIndex(mg.shape[1])
        index.add(mg)
        _, ids = index.search(mq, min(max(self.candidates, k), len(mg)))
        d = prvipe.sample_distances(self.model.net, mq, sq, mg, sg, ids, seed=self.seed)
        return np.take_along_axis(ids, np.argsort(d, axis=1, kind="stable")[:, :k], axis=1)
