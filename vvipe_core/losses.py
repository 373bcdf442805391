"""Losses: reconstruction, KL with warm-up, and the triplet loss mined by NP-MPJPE."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.distributions import Normal

from vvipe_core.metrics import HIT_THRESHOLD, normalised_pose_error


def reconstruction(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed over the coordinates of a pose, averaged over the batch."""
    return ((pred - target) ** 2).flatten(1).sum(1).mean()


def kl_to_standard_normal(q: Normal) -> torch.Tensor:
    """KL(q || N(0, I)) summed over embedding dimensions, averaged over the batch."""
    var = q.scale**2
    return 0.5 * (var + q.loc**2 - 1 - torch.log(var)).sum(1).mean()


def kl_weight(step: int, beta: float, warmup_steps: int) -> float:
    """Linear KL warm-up: 0 at step 0, beta from `warmup_steps` on."""
    return beta * min(1.0, step / warmup_steps) if warmup_steps > 0 else beta


@dataclass
class TripletResult:
    loss: torch.Tensor
    active: float  # share of anchors whose triplet still violates the margin
    mined: float  # share of anchors for which a true negative (NP-MPJPE >= threshold) was found


def mine_negatives(
    anchor: torch.Tensor, poses: torch.Tensor, candidates: int, d_pos: torch.Tensor | None,
    gallery: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """In-batch negative for each anchor: among its `candidates` nearest other embeddings (of
    `gallery`, row i embedding pose i; default the anchors), the closest true negative
    (NP-MPJPE >= 0.1 to the anchor's pose) that is farther than its positive (semi-hard), else
    the closest true negative.

    NP-MPJPE is exact but computed for the candidates only: all B^2 Procrustes fits would cost
    more than the network. Returns (negative index (B,), found (B,) bool).
    """
    k = min(candidates, len(anchor) - 1)
    with torch.no_grad():
        dist = torch.cdist(anchor, anchor if gallery is None else gallery).fill_diagonal_(float("inf"))
        cand_dist, cand = dist.topk(k, dim=1, largest=False)  # (B, k), nearest first
        p = poses.detach()
        negative = normalised_pose_error(p[cand], p[:, None]) >= HIT_THRESHOLD
        semi_hard = negative if d_pos is None else negative & (cand_dist > d_pos[:, None])
        pick = torch.where(semi_hard.any(1), semi_hard.float().argmax(1), negative.float().argmax(1))
    return cand.gather(1, pick[:, None])[:, 0], negative.any(1)


def triplet_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    poses: torch.Tensor,
    margin: float,
    candidates: int = 16,
    gallery: torch.Tensor | None = None,
) -> TripletResult:
    """Semi-hard triplet loss over a batch: anchor, positive (B, D) are embeddings of the same
    poses under two augmentations; poses (B, 17, 3) are the anchors' canonical poses. Negatives
    come from `gallery` (B, D), the same poses embedded otherwise, when given (e.g. the
    encoder's means, for 2D queries against a 3D gallery), else from the anchors."""
    d_pos = torch.linalg.norm(anchor - positive, dim=1)
    negative, found = mine_negatives(anchor, poses, candidates, d_pos.detach(), gallery)
    d_neg = torch.linalg.norm(anchor - (anchor if gallery is None else gallery)[negative], dim=1)
    per_anchor = torch.relu(d_pos - d_neg + margin) * found
    return TripletResult(
        loss=per_anchor.sum() / found.sum().clamp_min(1),
        active=float((per_anchor > 0).float().sum() / max(len(anchor), 1)),
        mined=float(found.float().mean()),
    )
