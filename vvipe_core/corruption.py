"""Detector-like 2D keypoint errors, for training the mapping network and for evaluation.

A 2D pose detector errs unlike isotropic pixel noise: its error grows with the person's size in
the picture and differs by joint, it now and then confuses left and right, and it loses
extremities (wrists, ankles) far more often than the torso. The model here, `DetectorErrors`:

- **Localisation**: each keypoint moves by Gaussian noise whose radial RMS is `sigma_scale`
  × COCO's per-keypoint OKS sigma × the person's size. COCO defines its sigmas as the RMS spread
  of human annotators relative to the person's scale s, s² being the person's area; we take
  s² = half the area of the keypoints' bounding box (a person's silhouette fills about half its
  box). So shoulders move ~0.079 s, hips ~0.107 s, the nose ~0.026 s. (By COCO's own sigmas
  wrists are placed *more* precisely than shoulders; what makes them hard is that they go
  missing, which the next rule models.)
- **Left/right swap**: with probability `swap_p` a pose gets one limb pair (elbows, wrists,
  knees or ankles, drawn uniformly) exchanged: the point named "l_wrist" lands where the right
  wrist is and vice versa. Names stay consistent: the skeleton is untouched, only positions move.
- **Missing keypoints**: each keypoint is lost (NaN) with its group's probability
  (`missing_p`: wrists and ankles most, the torso least), always leaving at least two of the
  shoulders and hips, which the 2D normalisation needs.

`sigma_scale = 1` puts a keypoint's error at about the spread between human annotators: COCO
detectors scoring ~75 AP err about that much (OKS 0.75 needs an error within ~1.5 sigma s).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vvipe_core.data import drop_keypoints
from vvipe_core.skeleton import H36M17, Skeleton

# COCO keypoint OKS sigmas (cocoapi's COCOeval), by our joint names. Joints COCO lacks borrow
# the nearest COCO joint's: pelvis from the hips, spine/thorax from the shoulders, the head top
# from the ears.
COCO_SIGMAS = {
    "neck_nose": 0.026, "head_top": 0.035,
    "l_shoulder": 0.079, "r_shoulder": 0.079, "thorax": 0.079, "spine": 0.079,
    "l_elbow": 0.072, "r_elbow": 0.072, "l_wrist": 0.062, "r_wrist": 0.062,
    "l_hip": 0.107, "r_hip": 0.107, "pelvis": 0.107,
    "l_knee": 0.087, "r_knee": 0.087, "l_ankle": 0.089, "r_ankle": 0.089,
}
# Limb pairs a detector may confuse, by the left joint's name.
SWAPPABLE = ("l_elbow", "l_wrist", "l_knee", "l_ankle")
# The silhouette's share of the keypoints' bounding box, standing in for COCO's segment area.
AREA_SHARE = 0.5


def _joint_group(name: str) -> str:
    for group in ("wrist", "ankle", "elbow", "knee"):
        if name.endswith(group):
            return "extremity" if group in ("wrist", "ankle") else "limb"
    return "head" if name in ("neck_nose", "head_top") else "torso"


@dataclass(frozen=True)
class DetectorErrors:
    sigma_scale: float = 1.0  # x COCO's sigma x person size = each keypoint's radial RMS error
    swap_p: float = 0.05  # probability of one limb pair's left/right swap per pose
    missing_p: dict[str, float] = field(default_factory=lambda: {
        "extremity": 0.08, "limb": 0.03, "head": 0.02, "torso": 0.01})

    def sigmas(self, skeleton: Skeleton = H36M17) -> np.ndarray:
        """(J,) radial RMS error per joint, relative to the person's size."""
        return self.sigma_scale * np.array([COCO_SIGMAS[n] for n in skeleton.joints])

    def missing(self, skeleton: Skeleton = H36M17) -> np.ndarray:
        """(J,) probability that each joint goes missing."""
        return np.array([self.missing_p[_joint_group(n)] for n in skeleton.joints])


DETECTOR = DetectorErrors()
# By name, for the config and the command line ("none": clean or isotropic noise only).
CORRUPTIONS: dict[str, DetectorErrors | None] = {"none": None, "detector": DETECTOR}


def person_size(pixels: np.ndarray) -> np.ndarray:
    """(N, J, 2) -> (N,) COCO's scale s: the square root of the person's area in pixels²."""
    span = np.nanmax(pixels, axis=1) - np.nanmin(pixels, axis=1)
    return np.sqrt(AREA_SHARE * span[:, 0] * span[:, 1])


def swap_limbs(pixels: np.ndarray, which: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Exchange the positions of one left/right pair per pose: `which` (N,) indexes SWAPPABLE,
    -1 for none."""
    out = np.array(pixels, copy=True)
    mirror = skeleton.mirror_index
    for k, name in enumerate(SWAPPABLE):
        rows = np.flatnonzero(which == k)
        left = skeleton.index(name)
        right = mirror[left]
        out[rows, left], out[rows, right] = pixels[rows, right], pixels[rows, left]
    return out


def corrupt(
    pixels: np.ndarray, rng: np.random.Generator, errors: DetectorErrors = DETECTOR,
    strength: np.ndarray | float = 1.0,
) -> np.ndarray:
    """(N, 17, 2) clean pixels -> detector-like pixels (NaN = missing). `strength` (N,) or a
    scalar multiplies every rate of `errors` (the noise, the swap and the missing rates), so
    training can draw a mix of mild and severe detectors."""
    pixels = np.asarray(pixels, dtype=np.float64)
    n = len(pixels)
    strength = np.broadcast_to(np.asarray(strength, dtype=np.float64), (n,))
    rms = errors.sigmas()[None, :] * (strength * person_size(pixels))[:, None]
    # A radial RMS of r is r / sqrt(2) per coordinate.
    out = pixels + rng.normal(size=pixels.shape) * (rms / np.sqrt(2))[..., None]
    swapped = rng.random(n) < errors.swap_p * strength
    out = swap_limbs(out, np.where(swapped, rng.integers(len(SWAPPABLE), size=n), -1))
    return drop_keypoints(out, errors.missing()[None, :] * strength[:, None], rng)
