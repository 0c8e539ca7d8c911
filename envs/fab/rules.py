"""Dispatching-rule baselines, as policies over the fab observation.

Each rule is ``rule(obs, key) -> action`` for one observation (vmap it for a batch) and only
reads what the observation shows (the action mask and the per-slot features), so it sees
exactly what a learned policy sees. Ties go to the oldest lot (the lowest slot index).

| rule     | picks the waiting lot with                                   |
|----------|--------------------------------------------------------------|
| fifo     | the longest wait in this queue (first in, first out)         |
| edd      | the earliest due date                                        |
| spt      | the shortest mean processing time of this step               |
| cr       | the smallest critical ratio (due date - now) / remaining work |
| random   | a uniformly random valid slot                                |

The classic rules ignore lot weights (hot lots), as in their textbook form.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from envs.fab.env import SLOT_FEATURE_NAMES, SLOT_FEATURES

__all__ = ["RULES", "rule_policy", "slot_features"]

_INDEX = {name: i for i, name in enumerate(SLOT_FEATURE_NAMES)}


def slot_features(obs, num_slots: int):
    """``(mask (K,), features (K, SLOT_FEATURES))`` from one observation."""
    mask = obs[:num_slots] > 0.5
    feats = obs[num_slots: num_slots * (1 + SLOT_FEATURES)].reshape(num_slots, SLOT_FEATURES)
    return mask, feats


def _argmin_valid(score, mask):
    return jnp.argmin(jnp.where(mask, score, jnp.inf)).astype(jnp.int32)


def _scores(name: str, feats):
    f = lambda n: feats[:, _INDEX[n]]  # noqa: E731
    if name == "fifo":
        return -f("waiting_time")
    if name == "edd":
        return f("due_in")
    if name == "spt":
        return f("proc_time")
    if name == "cr":
        return f("due_in") / jnp.maximum(f("remaining_work"), 1e-6)
    raise ValueError(name)


def rule_policy(name: str, num_slots: int) -> Callable:
    """The rule ``name`` (one of RULES) as ``policy(obs, key) -> action``."""
    if name not in RULES:
        raise ValueError(f"Unknown dispatching rule {name!r}; choose one of {RULES}")

    def policy(obs, key):
        mask, feats = slot_features(obs, num_slots)
        if name == "random":
            logits = jnp.where(mask, 0.0, -jnp.inf)
            # An all-empty mask (only after the episode ended) falls back to slot 0.
            logits = jnp.where(mask.any(), logits, 0.0)
            return jax.random.categorical(key, logits).astype(jnp.int32)
        return _argmin_valid(_scores(name, feats), mask)

    return policy


RULES = ("fifo", "edd", "spt", "cr", "random")
