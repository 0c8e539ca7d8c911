"""Algorithm registry: name -> module exposing `Config` and `make(env, env_params, config)`."""

from __future__ import annotations

import difflib
import importlib

ALGORITHMS = {
    "ppo": "jaxrl.algos.ppo",
    "a2c": "jaxrl.algos.a2c",
    "reinforce": "jaxrl.algos.reinforce",
    "dqn": "jaxrl.algos.dqn",
    "sac": "jaxrl.algos.sac",
    "td3": "jaxrl.algos.td3",
    "ddpg": "jaxrl.algos.ddpg",
    "pqn": "jaxrl.algos.pqn",
}


def get(name: str):
    """The algorithm module for `name`, or a ValueError listing the known names."""
    if name not in ALGORITHMS:
        close = difflib.get_close_matches(name, ALGORITHMS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown algorithm {name!r}.{hint} Known: {', '.join(sorted(ALGORITHMS))}.")
    return importlib.import_module(ALGORITHMS[name])
