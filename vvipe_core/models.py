"""Networks: the 3D pose VAE (encoder -> V-VIPE embedding -> decoder) and the 2D mapping network.

The VAE is a Martinez-style residual MLP. The mapping network is either the same MLP over the
flattened keypoints (`mapper_arch = "mlp"`) or a graph network over the 13-keypoint skeleton
(`"gcn"`, SemGCN-style). Poses enter and leave as flat canonical coordinates; 2D keypoints enter
as normalised (x, y) plus a presence flag per keypoint, and a missing keypoint's (x, y) is never
read, whatever it holds.
"""
from __future__ import annotations

import dataclasses

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


def _present(keypoints: torch.Tensor) -> torch.Tensor:
    """(N, 13, 3) -> (N, 13, 1) bool: the presence flag."""
    return keypoints[..., 2:] > 0.5


def _skeleton_adjacency() -> torch.Tensor:
    """(13, 13) KP13 bones, each row averaging a joint's neighbours (no self-loops)."""
    adjacency = torch.zeros(KP13.n, KP13.n)
    for parent, child in KP13.bones:
        adjacency[parent, child] = adjacency[child, parent] = 1.0
    return adjacency / adjacency.sum(1, keepdim=True)


class _GraphConv(nn.Module):
    """h'_j = W_self h_j + W_nbr sum_k A_jk h_k, with A the skeleton's bones plus a learnt dense
    offset (starting at zero), so that distant joints (wrist and ankle) can talk in one layer."""

    def __init__(self, width: int):
        super().__init__()
        self.register_buffer("bones", _skeleton_adjacency())
        self.affinity = nn.Parameter(torch.zeros(KP13.n, KP13.n))
        self.linear = nn.Linear(2 * width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        neighbours = torch.einsum("jk,nkc->njc", self.bones + self.affinity, h)
        return self.linear(torch.cat([h, neighbours], dim=-1))


class _GraphBlock(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.convs = nn.ModuleList(_GraphConv(width) for _ in range(2))
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(2))
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = h
        for conv, norm in zip(self.convs, self.norms):
            x = self.dropout(torch.relu(norm(conv(x).transpose(1, 2)).transpose(1, 2)))
        return h + x


class SkeletonGCN(nn.Module):
    """Keypoints as graph nodes: each present keypoint's (x, y) is embedded, a missing one is a
    learnt token, every joint adds its own learnt identity; residual graph-convolution blocks
    over the skeleton; the flattened node features give the embedding."""

    def __init__(self, n_out: int, width: int, blocks: int, dropout: float):
        super().__init__()
        self.embed = nn.Linear(2, width)
        self.missing = nn.Parameter(torch.zeros(width))
        self.identity = nn.Parameter(0.1 * torch.randn(KP13.n, width))
        self.blocks = nn.Sequential(*[_GraphBlock(width, dropout) for _ in range(blocks)])
        self.head = nn.Linear(KP13.n * width, n_out)

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        xy = torch.where(_present(keypoints), keypoints[..., :2], 0.0)
        h = torch.where(_present(keypoints), self.embed(xy), self.missing) + self.identity
        return self.head(self.blocks(h).flatten(1))


class Mapper(nn.Module):
    """Normalised 2D keypoints with presence flags (N, 13, 3) -> embedding mean (N, D)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        width, blocks = cfg.mapper_width or cfg.width, cfg.mapper_blocks or cfg.blocks
        if cfg.mapper_arch == "mlp":
            self.net = ResidualMLP(KEYPOINT_DIM, cfg.embedding_dim,
                                   dataclasses.replace(cfg, width=width, blocks=blocks))
        elif cfg.mapper_arch == "gcn":
            self.net = SkeletonGCN(cfg.embedding_dim, width, blocks, cfg.dropout)
        else:
            raise ValueError(f"unknown model.mapper_arch {cfg.mapper_arch!r}: mlp or gcn")
        self.flat = cfg.mapper_arch == "mlp"

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        if not self.flat:
            return self.net(keypoints)
        # A missing keypoint reads as (0, 0, absent) whatever its (x, y) hold.
        return self.net(torch.where(_present(keypoints), keypoints, 0.0).flatten(1))

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
