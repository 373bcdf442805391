"""One Euro smoothing of keypoint sequences and the jitter measure."""
from __future__ import annotations

import numpy as np
import pytest

from vvipe_core.smoothing import OneEuroSettings, body_scale, jitter, one_euro

FPS = 30.0


def _walking_figure(frames: int = 150, joints: int = 17, dims: int = 2) -> np.ndarray:
    """A 300-px figure whose joints sway slowly (0.5 Hz) while the whole body drifts."""
    rng = np.random.default_rng(0)
    t = np.arange(frames)[:, None, None] / FPS
    layout = rng.uniform(-150, 150, size=(1, joints, dims))
    phase = rng.uniform(0, 2 * np.pi, size=(1, joints, dims))
    return layout + 20 * np.sin(2 * np.pi * 0.5 * t + phase) + 40 * t


def _noisy(clean: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    return clean + np.random.default_rng(1).normal(0, sigma, clean.shape)


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.nanmean(np.sum((a - b) ** 2, axis=-1))))


@pytest.mark.parametrize("dims", [2, 3])
def test_jitter_drops_while_the_motion_is_kept(dims: int) -> None:
    clean = _walking_figure(dims=dims)
    noisy = _noisy(clean)
    smooth = one_euro(noisy, fps=FPS)
    assert smooth.shape == noisy.shape
    assert jitter(smooth) < 0.5 * jitter(noisy)
    assert _rms(smooth, clean) < _rms(noisy, clean)  # less noise, and lag does not eat the gain


def test_scale_free_settings() -> None:
    clean = _walking_figure()
    noisy = _noisy(clean)
    in_mm = one_euro(noisy * 3.7, fps=FPS)
    np.testing.assert_allclose(in_mm / 3.7, one_euro(noisy, fps=FPS), atol=1e-9)


def test_still_sequence_stays_put_and_dtype_is_kept() -> None:
    still = np.ones((20, 17, 3), dtype=np.float32)
    out = one_euro(still, fps=FPS)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, still)


def test_missing_joints_stay_missing_and_do_not_spread() -> None:
    noisy = _noisy(_walking_figure())
    noisy[40:45, 3] = np.nan  # a short gap: the filter resumes where it was
    noisy[80:, 5] = np.nan  # a joint that disappears
    out = one_euro(noisy, fps=FPS)
    assert np.isnan(out[40:45, 3]).all() and np.isnan(out[80:, 5]).all()
    other = np.ones(17, dtype=bool)
    other[[3, 5]] = False
    assert np.isfinite(out[:, other]).all()
    assert np.isfinite(out[45:, 3]).all()


def test_long_gap_restarts_the_joint() -> None:
    sequence = np.zeros((40, 1, 2))
    sequence[10:30] = np.nan
    sequence[30:] = 100.0  # reappears far away after 0.67 s
    out = one_euro(sequence, fps=FPS, settings=OneEuroSettings(reset_after_s=0.5))
    assert out[30, 0].tolist() == [100.0, 100.0]  # no glide from the old place


def test_frame_times_equal_fps_and_are_checked() -> None:
    noisy = _noisy(_walking_figure(frames=30))
    times = np.arange(30) / FPS
    np.testing.assert_allclose(one_euro(noisy, times_s=times), one_euro(noisy, fps=FPS))
    with pytest.raises(ValueError, match="increase"):
        one_euro(noisy, times_s=times[::-1])
    with pytest.raises(ValueError):
        one_euro(noisy)
    with pytest.raises(ValueError):
        one_euro(noisy[0], fps=FPS)


def test_jitter_of_steady_motion_is_zero_and_nan_aware() -> None:
    t = np.arange(10, dtype=float)
    steady = np.stack([t, 2 * t], axis=-1)[:, None, :].repeat(4, axis=1)
    assert jitter(steady) == pytest.approx(0.0)
    bumped = steady.copy()
    bumped[5, 0] += 1.0
    # The bump moves x and y by 1: accelerations sqrt(2) * (1, 2, 1) among 8 triples × 4 joints.
    assert jitter(bumped) == pytest.approx((1 + 2 + 1) * np.sqrt(2) / (8 * 4))
    bumped[5, 0] = np.nan  # triples touching the NaN are left out
    assert jitter(bumped) == pytest.approx(0.0)
    assert np.isnan(jitter(steady[:2]))


def test_body_scale_ignores_missing_frames() -> None:
    figure = _walking_figure()
    with_gaps = figure.copy()
    with_gaps[::3] = np.nan
    assert body_scale(with_gaps) == pytest.approx(body_scale(figure), rel=0.05)
