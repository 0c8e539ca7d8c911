"""Run-directory writers: metrics.csv, JSON files (atomically), TensorBoard and Weights &
Biases loggers, the learning-curve plot."""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write JSON to a temporary file in the same directory, then rename over `path`, so a
    reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, default=_json_default)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class MetricsWriter:
    """Append rows to `metrics.csv`; the header is fixed by the first row. Flushed after
    every `write` so an interrupted run keeps everything logged so far."""

    def __init__(self, path: str | os.PathLike, append: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = None
        self._writer = None
        self.fields: list[str] | None = None
        if append and self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, newline="") as handle:
                header = next(csv.reader(handle), None)
            if header:
                self.fields = header
                self._file = open(self.path, "a", newline="")
                self._writer = csv.DictWriter(self._file, fieldnames=self.fields, extrasaction="ignore")

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if self._writer is None:
            self.fields = list(rows[0].keys())
            self._file = open(self.path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=self.fields, extrasaction="ignore")
            self._writer.writeheader()
        for row in rows:
            self._writer.writerow({k: _format(v) for k, v in row.items()})
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def truncate_csv(path: str | os.PathLike, max_iteration: int) -> int:
    """Keep the rows of a metrics CSV whose `iteration` is at most `max_iteration` (a resumed
    run rewrites what came after its checkpoint). Rewritten atomically; returns rows kept."""
    path = Path(path)
    if not path.exists():
        return 0
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return 0
        index = header.index("iteration") if "iteration" in header else 0
        rows = []
        for row in reader:
            try:
                if len(row) == len(header) and int(float(row[index])) <= max_iteration:
                    rows.append(row)
            except ValueError:  # a line cut short by a crash
                continue
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return len(rows)


def _finite(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not (
        isinstance(value, (float, np.floating)) and math.isnan(value))


class TensorBoardWriter:
    """Per-iteration scalars as TensorBoard event files (tensorboardX), x axis = env steps per
    seed. Blank values (returns of iterations where no episode finished) are not written.

    `purge_step`: on resume, events at or after this step left by the interrupted run are
    hidden by TensorBoard, so the resumed curve does not double back."""

    def __init__(self, logdir: str | os.PathLike, purge_step: int | None = None):
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(str(logdir), purge_step=purge_step, flush_secs=10)

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            step = int(row["env_steps"])
            for key, value in row.items():
                if key in ("iteration", "env_steps") or not _finite(value):
                    continue
                self.writer.add_scalar(key, float(value), global_step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbWriter:
    """Per-iteration scalars to Weights & Biases (optional extra: `pip install 'jaxrl[wandb]'`).
    wandb is imported only when this writer is created. The run id is kept in the run
    directory (`wandb_run_id`) so a resumed run continues the same W&B run."""

    def __init__(self, logdir: str | os.PathLike, config: Mapping[str, Any], **init_kwargs):
        try:
            import wandb
        except ImportError:
            raise ImportError(
                "--wandb needs the wandb package, which is not installed; install the extra with "
                "`pip install 'jaxrl[wandb]'` (or drop --wandb)."
            ) from None
        id_file = Path(logdir) / "wandb_run_id"
        run_id = id_file.read_text().strip() if id_file.exists() else wandb.util.generate_id()
        id_file.write_text(run_id + "\n")
        kwargs = {"project": "jaxrl", "name": Path(logdir).name, "dir": str(logdir),
                  "config": dict(config), "id": run_id, "resume": "allow", **init_kwargs}
        self.run = wandb.init(**kwargs)

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            data = {k: float(v) for k, v in row.items() if k != "env_steps" and _finite(v)}
            self.run.log(data, step=int(row["env_steps"]))

    def close(self) -> None:
        self.run.finish()


def _format(value):
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return value


def read_metrics(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a metrics.csv back as columns of floats (blank cells become NaN)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {
        key: np.array([float(row[key]) if row[key] not in ("", None) else np.nan for row in rows])
        for key in rows[0]
    }


def plot_curve(x, mean, low, high, path, title: str, xlabel="env steps", ylabel="episode return"):
    """Save a learning curve: the mean with a shaded band between `low` and `high`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    x, mean, low, high = map(np.asarray, (x, mean, low, high))
    ok = ~np.isnan(mean)
    ax.plot(x[ok], mean[ok], lw=2)
    ax.fill_between(x[ok], low[ok], high[ok], alpha=0.25)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
