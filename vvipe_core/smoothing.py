"""Temporal smoothing of keypoint sequences (One Euro filter) and a jitter measure.

The One Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a low-pass filter whose cutoff rises
with speed: strong smoothing when a joint is still (jitter), little lag when it moves fast.

Sequences are (T, J, D) arrays: 2D keypoints in pixels or 3D poses in any unit. Each joint is
filtered as a point (its speed is the norm over D). Speeds are divided by the body's size, so one
set of settings works for pixels, millimetres and canonical units alike.

NaN-aware: a missing joint stays NaN in the output and does not disturb the filter; after a gap
longer than ``reset_after_s`` the joint starts afresh rather than gliding from its old place.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroSettings:
    """min_cutoff: Hz at rest (lower = smoother, more lag); beta: how fast the cutoff rises with
    speed, per body size per second; d_cutoff: Hz for the speed estimate."""

    # Chosen on CMU walking/turning clips projected to ~500 px figures with 2–5 px noise: jitter
    # roughly halves, position error stays near the noise level (bench/bench_detect.py re-measures).
    min_cutoff: float = 1.5
    beta: float = 3.0
    d_cutoff: float = 1.0
    reset_after_s: float = 0.5


DEFAULT_SMOOTHING = OneEuroSettings()


def body_scale(sequence: np.ndarray) -> float:
    """Typical size of the figure: median over frames of the joints' RMS distance to their mean."""
    x = np.asarray(sequence, dtype=np.float64)
    seen = np.isfinite(x).all(axis=-1)  # (T, J)
    frames = seen.sum(axis=1) >= 2  # a size needs two joints
    if not frames.any():
        return 1.0
    x, seen = x[frames], seen[frames]
    count = seen.sum(axis=1)  # (T,)
    points = np.where(seen[..., None], x, 0.0)
    mean = points.sum(axis=1, keepdims=True) / count[:, None, None]
    centred = np.where(seen[..., None], points - mean, 0.0)
    rms = np.sqrt(np.sum(centred**2, axis=(1, 2)) / count)
    scale = float(np.median(rms))
    return scale if scale > 0 else 1.0


def one_euro(
    sequence: np.ndarray,
    times_s: np.ndarray | None = None,
    fps: float | None = None,
    settings: OneEuroSettings = DEFAULT_SMOOTHING,
    scale: float | None = None,
) -> np.ndarray:
    """Smooth a (T, J, D) sequence; give frame times (seconds) or a frame rate.

    scale: the body size that speeds are divided by (default: body_scale(sequence)).
    """
    dtype = np.result_type(np.asarray(sequence).dtype, np.float32)
    x = np.asarray(sequence, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"expected a (T, J, D) sequence, got shape {x.shape}")
    times = _frame_times(len(x), times_s, fps)
    smoother = OneEuroFilter(settings, body_scale(x) if scale is None else scale)
    out = np.stack([smoother(sample, now) for sample, now in zip(x, times)]) if len(x) else x
    return out.astype(dtype)


class OneEuroFilter:
    """The filter as a running state, one (J, D) sample at a time (live video); `one_euro`
    runs it over whole sequences. scale: the body size speeds are divided by (None: the first
    sample's, see body_scale)."""

    def __init__(self, settings: OneEuroSettings = DEFAULT_SMOOTHING,
                 scale: float | None = None) -> None:
        self.settings = settings
        self.scale = scale
        self._value: np.ndarray | None = None  # filtered position per joint
        self._speed = np.zeros(0)  # filtered speed per joint (body sizes / s)
        self._last_time = np.zeros(0)

    def __call__(self, sample: np.ndarray, now: float) -> np.ndarray:
        """The filtered (J, D) sample at time `now` (seconds, increasing); NaN stays NaN."""
        sample = np.asarray(sample, dtype=np.float64)
        settings = self.settings
        if self._value is None:
            self._value = np.full(sample.shape, np.nan)
            self._speed = np.zeros(len(sample))
            self._last_time = np.full(len(sample), -np.inf)
        if self.scale is None and np.isfinite(sample).all(axis=-1).sum() >= 2:
            self.scale = body_scale(sample[None])
        value, speed = self._value, self._speed
        valid = np.all(np.isfinite(sample), axis=-1)
        dt = now - self._last_time
        fresh = valid & (~np.isfinite(value[:, 0]) | (dt > settings.reset_after_s))
        update = valid & ~fresh
        value[fresh] = sample[fresh]
        speed[fresh] = 0.0
        if np.any(update):
            step = dt[update]
            raw_speed = np.linalg.norm(sample[update] - value[update], axis=-1) / step
            raw_speed /= self.scale or 1.0
            speed[update] += _alpha(settings.d_cutoff, step) * (raw_speed - speed[update])
            cutoff = settings.min_cutoff + settings.beta * speed[update]
            value[update] += _alpha(cutoff, step)[:, None] * (sample[update] - value[update])
        self._last_time[valid] = now
        return np.where(valid[:, None], value, np.nan)


def _alpha(cutoff_hz: np.ndarray | float, dt: np.ndarray) -> np.ndarray:
    tau = 1.0 / (2.0 * np.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


def _frame_times(n: int, times_s: np.ndarray | None, fps: float | None) -> np.ndarray:
    if times_s is not None:
        times = np.asarray(times_s, dtype=np.float64)
        if times.shape != (n,):
            raise ValueError(f"expected {n} frame times, got shape {times.shape}")
        if n > 1 and np.any(np.diff(times) <= 0):
            raise ValueError("frame times must increase strictly")
        return times
    if fps is None or fps <= 0:
        raise ValueError("give frame times or a positive fps")
    return np.arange(n) / fps


def jitter(sequence: np.ndarray) -> float:
    """Mean frame-to-frame acceleration |x[t+1] - 2 x[t] + x[t-1]| over joints and frames,
    in the sequence's units per frame²; triples with a missing joint are skipped (NaN if none)."""
    x = np.asarray(sequence, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"expected a (T, J, D) sequence, got shape {x.shape}")
    if len(x) < 3:
        return float("nan")
    acceleration = np.linalg.norm(x[2:] - 2.0 * x[1:-1] + x[:-2], axis=-1)
    finite = acceleration[np.isfinite(acceleration)]
    return float(finite.mean()) if finite.size else float("nan")
