"""Figures: learning curves of several runs (mean and 95% interval over seeds), the comparison
dashboard (final-return bars, steps to reach a threshold), and the sweep figure.

```
jaxrl plot runs/ppo-... runs/dqn-... --out compare.png [--threshold 475]
```
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from jaxrl import logs, stats


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _forward_fill(values: np.ndarray) -> np.ndarray:
    """Carry each seed's last finished-episode return over iterations where none finished
    (leading NaNs stay NaN)."""
    out = values.copy()
    for s in range(out.shape[0]):
        last = np.nan
        for i in range(out.shape[1]):
            if np.isnan(out[s, i]):
                out[s, i] = last
            else:
                last = out[s, i]
    return out


def load_curves(logdir: str | os.PathLike) -> dict:
    """A run directory's per-seed training returns: `{"label", "env_steps" (I,),
    "returns" (S, I) forward-filled, "final" (S,) final evaluation per seed or None}`."""
    logdir = Path(logdir)
    seeds = logdir / "seed_returns.csv"
    if seeds.exists():
        columns = logs.read_metrics(seeds)
        seed_cols = sorted((k for k in columns if k.startswith("seed")), key=lambda k: int(k[4:]))
        returns = np.stack([columns[k] for k in seed_cols])
    elif (logdir / "metrics.csv").exists():  # older run directories: the seed mean only
        columns = logs.read_metrics(logdir / "metrics.csv")
        returns = columns["return_mean"][None]
    else:
        raise FileNotFoundError(f"{logdir} has neither seed_returns.csv nor metrics.csv; point "
                                "at a run directory written by `jaxrl train`.")
    label = logdir.name
    config_path = logdir / "config.json"
    if config_path.exists():
        config = json.loads(config_path.read_text())
        label = f"{config.get('algo', '?')} ({logdir.name})"
    final = None
    summary_path = logdir / "summary.json"
    if summary_path.exists():
        final = np.asarray(json.loads(summary_path.read_text()).get("per_seed_return") or [], float)
    return {"label": label, "env_steps": columns["env_steps"], "returns": _forward_fill(returns),
            "final": final}


def mean_and_interval(returns: np.ndarray, confidence: float = 0.95):
    """Seed mean per iteration and a normal-approximation `confidence` interval of it
    (t-quantile for few seeds); single-seed curves get no band."""
    from scipy import stats as st

    n = np.sum(~np.isnan(returns), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(np.where(np.isnan(returns), np.nan, returns), axis=0) if returns.size else returns
        std = np.nanstd(returns, axis=0, ddof=1) if returns.shape[0] > 1 else np.zeros(returns.shape[1])
        t = st.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
        half = np.where(n > 1, t * std / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean, mean - half, mean + half


def steps_to_threshold(env_steps: np.ndarray, returns: np.ndarray, threshold: float) -> np.ndarray:
    """Per seed: the first env step at which the (forward-filled) training return reaches
    `threshold`; NaN if never."""
    out = np.full(returns.shape[0], np.nan)
    for s in range(returns.shape[0]):
        hit = np.nonzero(returns[s] >= threshold)[0]
        if hit.size:
            out[s] = env_steps[hit[0]]
    return out


def compare(logdirs: Sequence[str | os.PathLike], out: str | os.PathLike,
            threshold: float | None = None, title: str | None = None) -> dict:
    """Draw the learning curves of several runs on one axis (mean and 95% interval over
    seeds) beside the dashboard: final deterministic-evaluation return per run (mean with a
    bootstrap 95% interval over seeds, seeds as dots) and env steps to reach `threshold`
    (default: 90% of the best final seed-mean training return). Returns the numbers drawn."""
    plt = _pyplot()
    runs = [load_curves(d) for d in logdirs]
    if threshold is None:
        finals = [np.nanmean(r["returns"][:, -1]) for r in runs if r["returns"].size]
        threshold = 0.9 * float(np.nanmax(finals)) if finals else 0.0
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), dpi=100,
                             gridspec_kw={"width_ratios": [2.2, 1, 1]})
    numbers = {"threshold": threshold, "runs": []}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, r in enumerate(runs):
        color = colors[i % len(colors)]
        mean, low, high = mean_and_interval(r["returns"])
        ok = ~np.isnan(mean)
        axes[0].plot(r["env_steps"][ok], mean[ok], color=color, lw=2,
                     label=f"{r['label']} (n={r['returns'].shape[0]})")
        axes[0].fill_between(r["env_steps"][ok], low[ok], high[ok], color=color, alpha=0.2)
        final = r["final"] if r["final"] is not None and r["final"].size else r["returns"][:, -1]
        summary = stats.summarize(final[~np.isnan(final)]) if np.any(~np.isnan(final)) else None
        reach = steps_to_threshold(r["env_steps"], r["returns"], threshold)
        entry = {"label": r["label"], "final": summary, "steps_to_threshold": reach.tolist()}
        numbers["runs"].append(entry)
        if summary is not None:
            axes[1].bar(i, summary["mean"], color=color, alpha=0.7,
                        yerr=[[summary["mean"] - summary["mean_ci_low"]],
                              [summary["mean_ci_high"] - summary["mean"]]], capsize=4)
            axes[1].scatter(np.full(final.size, i), final, color="k", s=8, zorder=3)
        reached = reach[~np.isnan(reach)]
        if reached.size:
            axes[2].bar(i, reached.mean(), color=color, alpha=0.7)
            axes[2].scatter(np.full(reached.size, i), reached, color="k", s=8, zorder=3)
        axes[2].annotate(f"{reached.size}/{reach.size} seeds", (i, 0), ha="center", va="bottom",
                         fontsize=8)
    labels = [r["label"] for r in runs]
    axes[0].axhline(threshold, color="grey", ls=":", lw=1)
    axes[0].set_xlabel("env steps (per seed)")
    axes[0].set_ylabel("training episode return")
    axes[0].set_title(title or "learning curves (mean, 95% CI over seeds)")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    for ax, name in ((axes[1], "final evaluation return\n(mean, bootstrap 95% CI; dots: seeds)"),
                     (axes[2], f"env steps to reach {threshold:.4g}\n(mean of seeds that did)")):
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return numbers


def sweep_figure(result, env_steps, curves, path, title: str) -> None:
    """Sweep figure: seed-mean training curve per combination, and final evaluation IQM per
    combination with its bootstrap 95% interval (best in a darker colour)."""
    from jaxrl.sweep import _label

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), dpi=100)
    for c, combo in enumerate(result.combos):
        ok = ~np.isnan(curves[c])
        axes[0].plot(env_steps[ok], curves[c][ok], lw=1.5, label=_label(combo))
    axes[0].set_xlabel("env steps (per seed)")
    axes[0].set_ylabel("training return (seed mean)")
    axes[0].legend(fontsize=7)
    axes[0].grid(alpha=0.3)
    rows = result.table
    x = np.arange(len(rows))
    iqms = np.array([r["iqm"] for r in rows])
    err = np.array([[r["iqm"] - r["iqm_ci_low"] for r in rows], [r["iqm_ci_high"] - r["iqm"] for r in rows]])
    colors = ["tab:red" if r is result.best else "tab:blue" for r in rows]
    axes[1].bar(x, iqms, yerr=err, color=colors, alpha=0.75, capsize=4)
    axes[1].set_xticks(x)
    axes[1].set_xticklabels([_label(c) for c in result.combos], rotation=25, ha="right", fontsize=7)
    axes[1].set_ylabel("final evaluation return (IQM, 95% CI)")
    axes[1].grid(alpha=0.3, axis="y")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
