"""Checkpoints of the whole train state, written with orbax-checkpoint.

A checkpoint is one orbax step directory `RUN_DIR/checkpoints/<iteration>/` holding two items:

- `state`: every array leaf of the (seed-vmapped) train state — params, optimizer state,
  target params, replay buffers, env states, normalisation statistics, RNG keys, counters,
  traced hyperparameters — keyed by its position in the flattened pytree;
- `meta`: JSON with the run config (algo, env, config, seeds, step budget), the driver's
  counters (iteration, evaluations so far, timings), the state's structure (tree definition,
  leaf shapes and dtypes) and a SHA-256 checksum of the leaves.

Orbax writes each step to a temporary directory and renames it when complete, so a process
killed while checkpointing leaves the previous checkpoints intact (the temporary directory is
ignored, then removed by the next save). The last `keep` checkpoints are kept.

Restoring checks the structure against the state the current agent would build and the
checksum against the bytes read, so a checkpoint of another algorithm, env or config, or a
damaged one, is reported with a clear error instead of training on garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Mapping

import jax
import numpy as np

FORMAT = 1
CHECKPOINT_DIR = "checkpoints"
# Fields of the run config that must match for a checkpoint to be resumed by an agent.
IDENTITY_KEYS = ("algo", "env", "env_kwargs", "config", "num_seeds", "seed", "total_steps", "hparams")


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: missing, damaged, or of a different run."""


def _ocp():
    # orbax is imported lazily: it is heavy, and most library uses never checkpoint.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import orbax.checkpoint as ocp
    return ocp


def checkpoint_dir(logdir: str | os.PathLike) -> Path:
    return Path(logdir) / CHECKPOINT_DIR


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _host_leaves(state) -> list[np.ndarray]:
    """The state's leaves as host NumPy copies (typed PRNG keys as their raw key data).

    Copies, because the driver donates the state's device buffers to the next chunk."""
    leaves = jax.tree.leaves(state)
    out = []
    for leaf in leaves:
        if _is_key(leaf):
            leaf = jax.random.key_data(leaf)
        out.append(np.array(jax.device_get(leaf), copy=True))
    return out


def structure(state) -> dict[str, Any]:
    """Tree definition and leaf shapes/dtypes: what a compatible checkpoint must match.
    Works on concrete states and on `jax.eval_shape` outputs."""
    leaves, treedef = jax.tree.flatten(state)
    return {
        "treedef": str(treedef),
        "leaves": [[list(leaf.shape), str(leaf.dtype)] for leaf in leaves],
    }


def _checksum(leaves: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for leaf in leaves:
        digest.update(str(leaf.shape).encode())
        digest.update(str(leaf.dtype).encode())
        digest.update(np.ascontiguousarray(leaf).tobytes())
    return digest.hexdigest()


class Checkpointer:
    """Saves and restores driver checkpoints in `RUN_DIR/checkpoints/`.

    Args:
      logdir: the run directory.
      keep: how many of the newest checkpoints to keep (older ones are deleted).
    """

    def __init__(self, logdir: str | os.PathLike, keep: int = 3):
        if keep < 1:
            raise ValueError(f"keep={keep}: keep at least one checkpoint.")
        ocp = _ocp()
        self.directory = checkpoint_dir(logdir).absolute()
        self.keep = keep
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, enable_async_checkpointing=False,
            cleanup_tmp_directories=True,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._manager = ocp.CheckpointManager(self.directory, options=options,
                                                  item_names=("state", "meta"))

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, iteration: int, state, meta: Mapping[str, Any]) -> Path:
        """Write the state (all leaves) and `meta` as checkpoint `iteration`; returns its path.
        Returns when the checkpoint is complete on disk."""
        ocp = _ocp()
        leaves = _host_leaves(state)
        items = {str(i): leaf for i, leaf in enumerate(leaves) if leaf.size > 0}
        full_meta = {
            "format": FORMAT,
            **dict(meta),
            "iteration": int(iteration),
            "structure": structure(state),
            "checksum": _checksum(leaves),
        }
        full_meta = json.loads(json.dumps(full_meta, default=_json_default))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._manager.save(
                int(iteration),
                args=ocp.args.Composite(state=ocp.args.PyTreeSave(items),
                                        meta=ocp.args.JsonSave(full_meta)),
                force=True,
            )
            self._manager.wait_until_finished()
        return self.directory / str(int(iteration))

    def read_meta(self, step: int) -> dict[str, Any]:
        path = self.directory / str(step) / "meta" / "metadata"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise CheckpointError(
                f"Checkpoint {self.directory / str(step)} is corrupt: its metadata cannot be "
                f"read ({error}). Delete that directory to resume from the previous checkpoint "
                f"({self._previous(step)})."
            ) from None

    def _previous(self, step: int) -> str:
        older = [s for s in self.steps() if s < step]
        return f"iteration {older[-1]}" if older else "there is none; start a new run"

    def restore(self, step: int, template) -> tuple[Any, dict[str, Any]]:
        """Restore checkpoint `step` into the structure of `template` (a state or
        `jax.eval_shape` of one). Raises CheckpointError if it does not fit or is damaged."""
        ocp = _ocp()
        meta = self.read_meta(step)
        where = self.directory / str(step)
        expected = structure(template)
        found = meta.get("structure", {})
        if found.get("leaves") != expected["leaves"] or found.get("treedef") != expected["treedef"]:
            raise CheckpointError(
                f"Checkpoint {where} does not fit this agent's train state (written by "
                f"{meta.get('algo')!r} on {meta.get('env')!r}; its state has "
                f"{len(found.get('leaves', []))} arrays, this agent's {len(expected['leaves'])}, "
                "or their shapes differ). Resume with the algorithm, env and config recorded in "
                "the run's config.json (`jaxrl train --resume RUN_DIR` does this). A checkpoint "
                "written by an earlier jaxrl whose train state held other arrays does not fit "
                "either: resume it with that version."
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                restored = self._manager.restore(
                    step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore()))
            items = restored["state"]
        except Exception as error:  # orbax/tensorstore raise many types for damaged files
            raise CheckpointError(
                f"Checkpoint {where} is corrupt and cannot be read ({type(error).__name__}: "
                f"{str(error)[:200]}). Delete that directory to resume from the previous "
                f"checkpoint ({self._previous(step)})."
            ) from None
        template_leaves, treedef = jax.tree.flatten(template)
        leaves = []
        for i, (shape, dtype) in enumerate(expected["leaves"]):
            if int(np.prod(shape)) == 0:
                leaves.append(np.zeros(shape, dtype if "key" not in dtype else np.uint32))
                continue
            leaf = items.get(str(i))
            if leaf is None:
                raise CheckpointError(f"Checkpoint {where} is corrupt: array {i} is missing. "
                                      f"Delete it to resume from the previous checkpoint "
                                      f"({self._previous(step)}).")
            leaves.append(np.asarray(leaf))
        if _checksum(leaves) != meta.get("checksum"):
            raise CheckpointError(
                f"Checkpoint {where} is corrupt: its arrays do not match the checksum written "
                f"with them. Delete that directory to resume from the previous checkpoint "
                f"({self._previous(step)})."
            )
        out = []
        for leaf, like in zip(leaves, template_leaves):
            if _is_key(like):
                out.append(jax.random.wrap_key_data(leaf, impl=jax.random.key_impl(like)))
            else:
                out.append(leaf)
        return jax.tree.unflatten(treedef, out), meta

    def close(self) -> None:
        self._manager.close()


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def latest(logdir: str | os.PathLike) -> int:
    """The iteration of the newest complete checkpoint in `logdir`, or a CheckpointError
    saying what is missing."""
    logdir = Path(logdir)
    if not logdir.is_dir():
        raise CheckpointError(f"Cannot resume: run directory {logdir} does not exist.")
    directory = checkpoint_dir(logdir)
    steps = []
    if directory.is_dir():
        steps = [int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_dir()]
    if not steps:
        raise CheckpointError(
            f"Cannot resume: {logdir} has no complete checkpoint (expected "
            f"{directory}/<iteration>/). Start a new run instead, or point --resume at a run "
            "directory written by `jaxrl train`."
        )
    return max(steps)


def check_identity(meta: Mapping[str, Any], run_config: Mapping[str, Any], where) -> None:
    """Raise CheckpointError if `meta` (from a checkpoint) belongs to another run than
    `run_config` (algorithm, env, config, seeds or budget differ)."""
    def normal(source):
        values = {k: source.get(k) for k in IDENTITY_KEYS}
        for key in ("env_kwargs", "hparams"):  # absent and empty mean the same
            values[key] = values[key] or {}
        return json.loads(json.dumps(values, default=_json_default))

    theirs, ours = normal(meta), normal(run_config)
    if isinstance(theirs["config"], dict) and isinstance(ours["config"], dict):
        # A field the checkpoint does not record was added to the config after it was
        # written; new fields default to the old behaviour, so that is not a change.
        ours["config"] = {k: v for k, v in ours["config"].items() if k in theirs["config"]}
    if theirs["algo"] != ours["algo"] or theirs["env"] != ours["env"]:
        raise CheckpointError(
            f"Checkpoint {where} is of {theirs['algo']!r} on {theirs['env']!r}, but this run is "
            f"{ours['algo']!r} on {ours['env']!r}. Resume it with `jaxrl train --resume RUN_DIR` "
            "(which reads the algorithm and env from config.json) or choose another --logdir."
        )
    differing = [k for k in IDENTITY_KEYS if theirs.get(k) != ours.get(k)]
    if differing:
        details = []
        for key in differing:
            if isinstance(theirs.get(key), dict) and isinstance(ours.get(key), dict):
                fields = sorted(f for f in set(theirs[key]) | set(ours[key])
                                if theirs[key].get(f) != ours[key].get(f))
                details.append(f"{key}: " + ", ".join(
                    f"{f}={theirs[key].get(f)!r} in the checkpoint vs {ours[key].get(f)!r}" for f in fields))
            else:
                details.append(f"{key}={theirs.get(key)!r} in the checkpoint vs {ours.get(key)!r}")
        raise CheckpointError(
            f"Checkpoint {where} was written by a run with different settings ({'; '.join(details)}). "
            "A resumed run must use the settings it started with: drop the changed flags "
            "(`jaxrl train --resume RUN_DIR` reads them from config.json)."
        )


def remove_partial(logdir: str | os.PathLike) -> list[str]:
    """Delete temporary directories left by a save that was killed; returns their names."""
    directory = checkpoint_dir(logdir)
    removed = []
    if directory.is_dir():
        for path in directory.iterdir():
            if path.is_dir() and not path.name.isdigit() and "tmp" in path.name:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return removed
