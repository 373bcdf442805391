"""Networks: the 3D pose VAE (encoder -> V-VIPE embedding -> decoder) and the 2D mapping network.

Both are Martinez-style residual MLPs. Poses enter and leave as flat canonical coordinates;
2D keypoints enter as normalised (x, y) plus a presence flag per keypoint.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Normal

from vvipe_core.config import ModelConfig
from vvipe_core.skeleton import H36M17, KP13

POSE_DIM = H36M17.n * 3
KEYPOINT_DIM = KP13.n * 3  # x, y, present


class _Block(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class ResidualMLP(nn.Module):
    def __init__(self, n_in: int, n_out: int, cfg: ModelConfig):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, cfg.width), nn.BatchNorm1d(cfg.width), nn.ReLU(),
            nn.Dropout(cfg.dropout),
            *[_Block(cfg.width, cfg.dropout) for _ in range(cfg.blocks)],
            nn.Linear(cfg.width, n_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PoseVAE(nn.Module):
    """Canonical 3D pose (N, 17, 3) <-> V-VIPE embedding (N, D)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.encoder = ResidualMLP(POSE_DIM, 2 * cfg.embedding_dim, cfg)
        self.decoder = ResidualMLP(cfg.embedding_dim, POSE_DIM, cfg)

    def encode(self, poses: torch.Tensor) -> Normal:
        mean, log_var = self.encoder(poses.flatten(1)).chunk(2, dim=-1)
        return Normal(mean, torch.exp(0.5 * log_var.clamp(-20, 10)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, H36M17.n, 3)


class Mapper(nn.Module):
    """Normalised 2D keypoints with presence flags (N, 13, 3) -> embedding mean (N, D)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.net = ResidualMLP(KEYPOINT_DIM, cfg.embedding_dim, cfg)

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        return self.net(keypoints.flatten(1))

    @property
    def members(self) -> list[Mapper]:
        """The networks that training fits one by one (here just this one)."""
        return [self]


class MapperEnsemble(nn.Module):
    """Several mapping networks, each trained on its own cameras, whose embeddings are averaged:
    their errors are partly independent, so the mean lands nearer the truth than any one."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.nets = nn.ModuleList(Mapper(cfg) for _ in range(cfg.mappers))

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(keypoints) for net in self.nets]).mean(0)

    @property
    def members(self) -> list[Mapper]:
        return list(self.nets)


def build_mapper(cfg: ModelConfig) -> Mapper | MapperEnsemble:
    """One mapping network, or an averaged ensemble when the config asks for several (a single
    network keeps its own weight names, so older checkpoints load unchanged)."""
    if cfg.mappers < 1:
        raise ValueError(f"model.mappers must be at least 1, got {cfg.mappers}")
    return Mapper(cfg) if cfg.mappers == 1 else MapperEnsemble(cfg)
