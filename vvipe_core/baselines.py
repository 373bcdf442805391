"""Baselines for the evaluation, trained on the same poses and cameras as V-VIPE.

- ``lifter``: a direct 2D -> canonical 3D regressor of the mapper's size; retrieval by the
  distance between lifted 3D poses (lift-then-compare).
- ``prvipe``: a Pr-VIPE-style probabilistic embedding: 2D -> Gaussian embedding, trained with
  sampled embeddings, a sigmoid matching probability, a triplet ratio loss on NP-MPJPE-mined
  negatives, a positive pairwise loss and a KL prior. Retrieval by the embedding means.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vvipe_core import checkpoint
from vvipe_core.cameras import keypoint_features
from vvipe_core.canonical import Realign, canonicalize
from vvipe_core.config import TrainConfig
from vvipe_core.data import load_poses
from vvipe_core.losses import mine_negatives, reconstruction
from vvipe_core.models import KEYPOINT_DIM, POSE_DIM, ResidualMLP
from vvipe_core.skeleton import H36M17
from vvipe_core.train import TrainEvent, augmented_world_poses, camera_keypoints, select_device

FORMAT = "vvipe-baseline"
KINDS = ("lifter", "prvipe")
PRVIPE_SAMPLES = 8  # embedding samples per 2D pose
PRVIPE_KL_WEIGHT = 1e-3
PRVIPE_MARGIN = math.log(2.0)


class ProbabilisticEmbedder(nn.Module):
    """2D keypoints -> (mean, std) of a Gaussian embedding, and the matching probability
    sigmoid(-a * distance + b) with learnt a > 0 and b."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.net = ResidualMLP(KEYPOINT_DIM, 2 * cfg.model.embedding_dim, cfg.model)
        self.log_a = nn.Parameter(torch.zeros(()))
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.net(features.flatten(1)).chunk(2, dim=-1)
        return mean, torch.exp(0.5 * log_var.clamp(-10, 10))

    def match_probability(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        """Mean over sample pairs of sigmoid(-a |za - zb| + b); za, zb: (B, K, D) -> (B,)."""
        d = torch.linalg.norm(za[:, :, None] - zb[:, None], dim=-1)
        return torch.sigmoid(-self.log_a.exp() * d + self.b).mean((1, 2))


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
        return ProbabilisticEmbedder(cfg)
    raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(KINDS)}")


def _prvipe_loss(net: ProbabilisticEmbedder, fa, fb, target, cfg) -> tuple[torch.Tensor, dict]:
    """Two views (fa, fb) of the same poses are positives; negatives are mined in the batch."""
    (ma, sa), (mb, sb) = net(fa), net(fb)
    samples = lambda m, s: m[:, None] + s[:, None] * torch.randn(
        m.shape[0], PRVIPE_SAMPLES, m.shape[1], device=m.device)
    za, zb = samples(ma, sa), samples(mb, sb)
    negative, found = mine_negatives(ma, target, cfg.triplet_candidates, d_pos=None)
    p_pos = net.match_probability(za, zb).clamp_min(1e-6)
    p_neg = net.match_probability(za, za[negative]).clamp_min(1e-6)
    ratio = torch.relu(torch.log(p_neg) - torch.log(p_pos) + PRVIPE_MARGIN)
    ratio = (ratio * found).sum() / found.sum().clamp_min(1)
    positive = -torch.log(p_pos).mean()
    kl = sum(0.5 * (s**2 + m**2 - 1 - torch.log(s**2)).sum(1).mean() for m, s in ((ma, sa), (mb, sb)))
    loss = ratio + positive + PRVIPE_KL_WEIGHT * kl
    return loss, {"ratio": ratio.item(), "positive": positive.item(), "kl": kl.item()}


def train_baseline(kind: str, cfg: TrainConfig, out: str | Path, callback=None) -> Path:
    """Train a baseline on the config's train split and cameras; writes one checkpoint file."""
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
            if kind == "lifter":
                loss = reconstruction(net(features(world, rng)), target)
                logs = {"pose": loss.item()}
            else:
                loss, logs = _prvipe_loss(net, features(world, rng), features(world, rng), target, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if callback and (step % 10 == 0 or step + 1 == n_steps):
                callback(TrainEvent(kind, epoch, epochs, step + 1, n_steps, logs,
                                    elapsed_s=time.monotonic() - start))
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    return checkpoint.save({"format": FORMAT, "kind": kind, "config": cfg.to_dict(),
                            "weights": state}, out)


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
        self.kind, self.source = ckpt["kind"], str(path)
        self.config = TrainConfig.from_dict(ckpt["config"])
        self.realign = Realign(self.config.realign)
        self.device = torch.device(device)
        self.net = _network(self.kind, self.config)
        self.net.load_state_dict(ckpt["weights"], strict=True)
        self.net.to(self.device).eval()

    @torch.no_grad()
    def _run(self, kp2d: np.ndarray) -> torch.Tensor:
        features = torch.as_tensor(keypoint_features(kp2d, H36M17)[0], device=self.device)
        out = self.net(features)
        return out[0] if self.kind == "prvipe" else out

    def embed_2d(self, kp2d: np.ndarray) -> np.ndarray:
        return self._run(kp2d).flatten(1).cpu().numpy()

    def lift(self, kp2d: np.ndarray) -> np.ndarray | None:
        return self._run(kp2d).cpu().numpy() if self.kind == "lifter" else None
