"""Pose metrics: MPJPE, PA-MPJPE, NP-MPJPE, and cross-view Hit@k.

One Procrustes implementation (torch, batched, broadcasting) serves evaluation (numpy in/out)
and triplet mining inside training.
"""
from __future__ import annotations

import numpy as np
import torch

from vvipe_core.canonical import Realign, canonicalize

# A retrieved pose is a hit when its NP-MPJPE to the query's pose is at most this (Pr-VIPE).
HIT_THRESHOLD = 0.1


def procrustes_align(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Similarity-align x onto y (rotation, translation, scale; reflections excluded).

    x, y: (..., J, 3), broadcast against each other. Returns the aligned x.
    """
    mx, my = x.mean(-2, keepdim=True), y.mean(-2, keepdim=True)
    x0, y0 = x - mx, y - my
    u, s, vt = torch.linalg.svd(x0.transpose(-1, -2) @ y0)
    # Reflection fix: flip the weakest axis where the best orthogonal map is a reflection.
    d = torch.sign(torch.linalg.det(u @ vt))
    d = torch.where(d == 0, torch.ones_like(d), d)
    signs = torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1)
    rotation = (u * signs.unsqueeze(-2)) @ vt
    scale = (s * signs).sum(-1) / (x0**2).sum((-1, -2)).clamp_min(1e-12)
    return scale[..., None, None] * (x0 @ rotation) + my


def _joint_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.linalg.norm(a - b, dim=-1).mean(-1)


def normalised_pose_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """NP-MPJPE of poses already normalised to torso length 1 (canonical units), broadcasting
    (..., J, 3) against (..., J, 3) -> (...). a is aligned onto b."""
    return _joint_error(procrustes_align(a, b), b)


def _as_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, J, 3) -> (N,) mean joint error after aligning the roots (joint 0)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    return np.linalg.norm((pred - pred[..., :1, :]) - (gt - gt[..., :1, :]), axis=-1).mean(-1)


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, J, 3) -> (N,) mean joint error after similarity Procrustes alignment, in gt's units."""
    p, g = _as_tensor(pred), _as_tensor(gt)
    return _joint_error(procrustes_align(p, g), g).numpy()


def errors_mm(pred: np.ndarray, truth: np.ndarray, scale_mm: np.ndarray) -> dict[str, float]:
    """Mean MPJPE and PA-MPJPE in mm of canonical predictions (..., N, J, 3) against canonical
    truth (N, J, 3), both brought to each true pose's size by `scale_mm` (N,)."""
    pred = np.asarray(pred, dtype=np.float64)
    mm = np.asarray(scale_mm, dtype=np.float64)[:, None, None]
    pred_mm = (pred * mm).reshape(-1, *pred.shape[-2:])
    truth_mm = np.array(np.broadcast_to(truth * mm, pred.shape)).reshape(pred_mm.shape)  # writable
    return {
        "mpjpe_mm": float(np.linalg.norm(pred_mm - truth_mm, axis=-1).mean()),
        "pa_mpjpe_mm": float(pa_mpjpe(pred_mm, truth_mm).mean()),
    }


def np_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, J, 3) -> (N,) PA-MPJPE between scale-normalised poses (torso length 1; unitless)."""
    p = canonicalize(pred, Realign.NONE)
    g = canonicalize(gt, Realign.NONE)
    return pa_mpjpe(p, g)


def hits_at_k(
    query_poses: np.ndarray, retrieved_poses: np.ndarray, ks: tuple[int, ...] = (1, 10, 20)
) -> dict[str, float]:
    """Share of queries with a matching pose among their top-k retrieved poses.

    query_poses: (Q, J, 3) canonical (normalised) 3D poses of the queries; retrieved_poses:
    (Q, K, J, 3) the 3D poses of each query's ranked results. Returns {"hit@k": fraction}.
    """
    q = _as_tensor(query_poses)[:, None]
    r = _as_tensor(retrieved_poses)
    kmax = max(ks)
    if r.shape[1] < kmax:
        raise ValueError(f"need {kmax} retrieved poses per query, got {r.shape[1]}")
    close = normalised_pose_error(r[:, :kmax], q) <= HIT_THRESHOLD  # (Q, kmax)
    no_hit = torch.full_like(close[:, 0], kmax, dtype=torch.long)
    first_hit = torch.where(close.any(1), close.float().argmax(1), no_hit)
    return {f"hit@{k}": float((first_hit < k).float().mean()) for k in ks}
