"""Check retrieval candidates against the picture: fit a camera that lays each candidate 3D pose
onto the query's 2D keypoints, and re-rank by how well it fits.

An index of true 3D poses (the gallery) answers a photo with the nearest embeddings; the photo
still holds the 2D evidence. The pictured pose can be projected onto the keypoints by some
camera, a wrong one cannot: the embedding finds the neighbourhood, the picture decides.

The camera is scaled orthographic (weak perspective), x = s R X + t with R the first two rows of
a rotation, fitted in closed form for a whole batch of candidates at once: a weighted
least-squares affine map (2x3 and an offset), its nearest scaled rotation (the polar factor of
the 2x3 map, closed form for 2x2), then the best scale for that rotation. Only the 13 detector
keypoints (KP13) take part; detector confidences weigh them and missing (NaN) ones weigh 0.
The fit error is the weighted mean reprojection distance per joint divided by the person's
size in the picture (`normalize_2d`'s scale: twice the largest distance among the shoulders and
hips, about a metre on an adult), so 0.03 reads "3 % of the person's size".
Orthographic projection cannot tell a pose from its mirror image in depth; a left/right mirror
(which also swaps the limbs' labels) still fits worse.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vvipe_core.cameras import normalize_2d
from vvipe_core.skeleton import H36M17, KP13

KP13_JOINTS = np.array(H36M17.indices(KP13.joints))  # of a (…, 17, …) array
# An affine camera has 8 unknowns (two per joint): with fewer joints every candidate fits.
MIN_JOINTS = 6


@dataclass(frozen=True)
class CameraFit:
    """Scaled-orthographic cameras, one per candidate: pixels = scale * rotation @ X + offset."""

    scale: np.ndarray  # (..., K)
    rotation: np.ndarray  # (..., K, 2, 3) orthonormal rows
    offset: np.ndarray  # (..., K, 2) pixels
    error: np.ndarray  # (..., K) reprojection error / person size; NaN: too few keypoints

    def project(self, poses3d: np.ndarray) -> np.ndarray:
        """(..., K, J, 3) the candidates (any joints, the fitted frame) -> (..., K, J, 2) pixels."""
        rotated = np.einsum("...ij,...nj->...ni", self.rotation, np.asarray(poses3d, np.float64))
        return self.scale[..., None, None] * rotated + self.offset[..., None, :]


def keypoint_evidence(
    kp2d: np.ndarray, confidence: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(..., 17|13, 2) keypoints (NaN = missing) and confidences -> the 13 detector keypoints
    with missing ones as 0 (..., 13, 2), their weights (..., 13; 0 = missing), and the
    person's size (...,). The joints of the 3D poses that match them: `KP13_JOINTS`."""
    kp = np.asarray(kp2d, dtype=np.float64)
    weights = np.ones(kp.shape[:-1]) if confidence is None else np.asarray(confidence, np.float64)
    if kp.shape[-2] == H36M17.n:
        kp, weights = kp[..., KP13_JOINTS, :], weights[..., KP13_JOINTS]
    elif kp.shape[-2] != KP13.n:
        raise ValueError(f"expected keypoints of 17 or 13 joints, got shape {kp.shape}")
    known = np.isfinite(kp).all(-1) & np.isfinite(weights) & (weights > 0)
    _, _, size = normalize_2d(np.where(known[..., None], kp, np.nan))
    return np.where(known[..., None], kp, 0.0), np.where(known, weights, 0.0), size


def fit_cameras(
    kp2d: np.ndarray, poses3d: np.ndarray, confidence: np.ndarray | None = None
) -> CameraFit:
    """Fit one camera per candidate. kp2d (..., 17|13, 2) pixels of a query (NaN = missing);
    poses3d (..., K, 17, 3) its candidates in any frame and unit; confidence (..., 17|13)
    detector scores (None: all 1). Raises ValueError where a query has fewer than two of the
    shoulders and hips (it has no size)."""
    x, w, size = keypoint_evidence(kp2d, confidence)
    poses = np.asarray(poses3d, dtype=np.float64)
    big_x = poses[..., KP13_JOINTS, :]  # (..., K, 13, 3)
    x, w = x[..., None, :, :], w[..., None, :]  # broadcast over the K candidates
    total = np.maximum(w.sum(-1), 1e-12)[..., None]  # (..., 1, 1)
    x_mean = (w[..., None] * x).sum(-2) / total
    big_mean = (w[..., None] * big_x).sum(-2) / total
    xc, big_c = x - x_mean[..., None, :], big_x - big_mean[..., None, :]
    wb = w[..., None] * big_c
    moment = np.einsum("...ji,...jk->...ik", wb, big_c)  # (..., K, 3, 3)
    cross = np.einsum("...ji,...jk->...ik", xc * w[..., None], big_c)  # (..., K, 2, 3)
    ridge = 1e-12 * np.trace(moment, axis1=-2, axis2=-1)[..., None, None] + 1e-12
    affine = np.swapaxes(np.linalg.solve(moment + ridge * np.eye(3), np.swapaxes(cross, -1, -2)),
                         -1, -2)
    rotation = _orthonormal_rows(affine)
    rotated = np.einsum("...ij,...nj->...ni", rotation, big_c)
    scale = (w * (xc * rotated).sum(-1)).sum(-1) / np.maximum((w * (rotated**2).sum(-1)).sum(-1),
                                                               1e-12)
    # A negative scale is the same camera turned half a turn about its axis.
    sign = np.where(scale < 0, -1.0, 1.0)
    rotation, rotated = rotation * sign[..., None, None], rotated * sign[..., None, None]
    scale = np.abs(scale)
    residual = np.linalg.norm(xc - scale[..., None, None] * rotated, axis=-1)
    error = (w * residual).sum(-1) / total[..., 0] / np.asarray(size)[..., None]
    enough = (w > 0).sum(-1) >= MIN_JOINTS
    error = np.where(enough, error, np.nan)
    offset = x_mean - scale[..., None] * np.einsum("...ij,...j->...i", rotation, big_mean)
    return CameraFit(scale, rotation, offset, error)


def _orthonormal_rows(a: np.ndarray) -> np.ndarray:
    """(..., 2, 3) -> the nearest matrices with orthonormal rows: (a a^T)^(-1/2) a, with the
    2x2 inverse square root in closed form."""
    p = a @ np.swapaxes(a, -1, -2)
    det = np.maximum(np.linalg.det(p), 1e-24)
    root_det = np.sqrt(det)
    t = np.sqrt(np.maximum(np.trace(p, axis1=-2, axis2=-1) + 2 * root_det, 1e-24))
    sqrt_p = (p + root_det[..., None, None] * np.eye(2)) / t[..., None, None]
    a_, b, d = sqrt_p[..., 0, 0], sqrt_p[..., 0, 1], sqrt_p[..., 1, 1]
    inv_det = 1.0 / np.maximum(a_ * d - b * b, 1e-24)
    inv = np.stack([np.stack([d, -b], -1), np.stack([-b, a_], -1)], -2) * inv_det[..., None, None]
    return inv @ a


@dataclass(frozen=True)
class Verified:
    """Candidates re-ranked by their fit: ids and embedding distances in the new order."""

    ids: np.ndarray  # (Q, n) indices into the pose table
    distances: np.ndarray  # (Q, n) embedding distances, as the search gave them
    error: np.ndarray  # (Q, n) fit errors (NaN past the checked K or without enough keypoints)


def rerank(
    kp2d: np.ndarray, ids: np.ndarray, distances: np.ndarray, poses3d: np.ndarray,
    confidence: np.ndarray | None = None, k: int | None = None, blend: float = 0.0,
    chunk: int = 256,
) -> Verified:
    """Re-rank each query's first `k` search results (all when None) by fit error +
    `blend` * embedding distance; results past `k` keep their place after them.

    kp2d (Q, 17|13, 2) pixels; ids, distances (Q, n) the search's answer (nearest first; ids
    index `poses3d` (N, 17, 3)); confidence (Q, 17|13). The sort is stable and a query
    without enough keypoints keeps the embedding's order, so the list only ever changes order.
    """
    ids, distances = np.asarray(ids), np.asarray(distances, dtype=np.float64)
    k = ids.shape[1] if k is None else min(k, ids.shape[1])
    error = np.full(ids.shape, np.nan)
    order = np.tile(np.arange(ids.shape[1]), (len(ids), 1))
    for start in range(0, len(ids), chunk):
        rows = slice(start, start + chunk)
        found = ids[rows, :k] >= 0  # an index smaller than n pads with -1
        fit = fit_cameras(kp2d[rows], poses3d[np.where(found, ids[rows, :k], 0)],
                          None if confidence is None else confidence[rows])
        score = fit.error + blend * np.where(found, distances[rows, :k], 0.0)
        score = np.where(found, score, np.inf)
        score = np.where(np.isnan(score), np.arange(k), score)  # unverifiable: as searched
        order[rows, :k] = np.argsort(score, axis=1, kind="stable")
        error[rows, :k] = fit.error
    pick = np.take_along_axis
    return Verified(pick(ids, order, 1), pick(distances, order, 1), pick(error, order, 1))
