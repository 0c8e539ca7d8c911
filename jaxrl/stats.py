"""Statistics over seeds: mean, std, interquartile mean (IQM) and bootstrap confidence
intervals, as reported for sweeps, evaluations and comparison plots (Agarwal et al., 2021
recommend the IQM with stratified-bootstrap intervals over few seeds)."""

from __future__ import annotations

from typing import Callable

import numpy as np


def iqm(values, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% of the values (25% trimmed from each
    end, as scipy.stats.trim_mean(values, 0.25)); the plain mean for fewer than 4 values."""
    values = np.sort(np.asarray(values, dtype=np.float64), axis=axis)
    n = values.shape[axis]
    cut = int(0.25 * n)
    kept = np.take(values, np.arange(cut, n - cut), axis=axis)
    return kept.mean(axis=axis)


def bootstrap_ci(values, statistic: Callable = np.mean, confidence: float = 0.95,
                 resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over the 1-D `values` (resampling seeds
    with replacement). A fixed `seed` makes tables reproducible."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    if values.size == 1:
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    samples = values[rng.integers(0, values.size, size=(resamples, values.size))]
    stats = statistic(samples, axis=-1)
    alpha = (1.0 - confidence) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def summarize(values, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict:
    """Mean, std, IQM, min, max of per-seed values, with bootstrap intervals of the mean and
    the IQM."""
    values = np.asarray(values, dtype=np.float64).ravel()
    mean_lo, mean_hi = bootstrap_ci(values, np.mean, confidence, resamples, seed)
    iqm_lo, iqm_hi = bootstrap_ci(values, iqm, confidence, resamples, seed)
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "iqm": float(iqm(values)),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean_ci_low": mean_lo,
        "mean_ci_high": mean_hi,
        "iqm_ci_low": iqm_lo,
        "iqm_ci_high": iqm_hi,
    }
