"""The registered fab instances: ``fab/small-v0`` (tests, quick experiments) and
``fab/realistic-v0`` (a five-tool-group re-entrant fab with a lithography bottleneck)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from envs.fab.env import FabEnv, FabParams

__all__ = ["INSTANCES", "make_fab", "instance_loads"]


def _pad(rows, width, fill):
    return np.array([list(r) + [fill] * (width - len(r)) for r in rows])


def _params(routes, times, mix, **rates) -> tuple[FabParams, int]:
    width = max(len(r) for r in routes)
    params = FabParams(
        routes=jnp.asarray(_pad(routes, width, 0), jnp.int32),
        route_length=jnp.asarray([len(r) for r in routes], jnp.int32),
        proc_mean=jnp.asarray(_pad(times, width, 1.0), jnp.float32),
        product_mix=jnp.asarray(mix, jnp.float32),
        **{k: jnp.asarray(v, jnp.float32) for k, v in rates.items()},
    )
    return params, width


# Small: 3 tool groups, the single machine of group 1 is the bottleneck, visited 2-3 times.
_SMALL = dict(
    machines_per_group=(2, 1, 2),
    num_lots=24,
    num_slots=4,
    routes=[(0, 1, 2, 1, 0, 1), (0, 1, 2, 1)],
    times=[(1.5, 1.0, 2.0, 0.7, 1.5, 1.3), (1.0, 1.4, 1.5, 0.5)],
    mix=(0.5, 0.5),
    rates=dict(release_interval=2.5, proc_cv=0.3, due_factor_low=1.3, due_factor_high=3.0,
               hot_fraction=0.2, hot_weight=4.0, cycle_time_weight=0.1),
)

# Realistic: diffusion (3 furnaces), lithography (2 scanners, the bottleneck, visited 3-4
# times per lot), etch (3), implant (2), CMP/metrology (2); three products with routes of
# 8-12 steps; ~98% load on lithography while lots are released; tight due dates.
D, LI, E, I, C = 0, 1, 2, 3, 4
_REALISTIC = dict(
    machines_per_group=(3, 2, 3, 2, 2),
    num_lots=60,
    num_slots=8,
    routes=[
        (D, LI, E, I, LI, E, C, D, LI, I, LI, C),
        (D, LI, E, LI, I, E, C, LI, E, C),
        (D, LI, I, E, LI, C, LI, E),
    ],
    times=[
        (2.5, 0.8, 1.0, 1.2, 1.1, 0.9, 0.8, 2.0, 0.6, 1.0, 1.4, 0.7),
        (2.0, 1.2, 1.1, 0.7, 1.3, 1.0, 0.9, 1.0, 0.8, 0.6),
        (3.0, 0.6, 1.5, 1.2, 1.5, 1.0, 0.9, 0.7),
    ],
    mix=(0.4, 0.35, 0.25),
    rates=dict(release_interval=1.7, proc_cv=0.3, due_factor_low=1.2, due_factor_high=2.5,
               hot_fraction=0.2, hot_weight=4.0, cycle_time_weight=0.1),
)

INSTANCES: dict[str, dict[str, Any]] = {"small-v0": _SMALL, "realistic-v0": _REALISTIC}


def instance_loads(spec: dict[str, Any]) -> np.ndarray:
    """Expected utilisation of each tool group under the instance's release rate."""
    groups = len(spec["machines_per_group"])
    work = np.zeros(groups)
    for route, times, share in zip(spec["routes"], spec["times"], spec["mix"]):
        for g, t in zip(route, times):
            work[g] += share * t
    return work / (np.array(spec["machines_per_group"]) * spec["rates"]["release_interval"])


def make_fab(instance: str, auto_dispatch_single: bool = True, **param_overrides: Any):
    """``(env, params)`` for a registered instance; ``param_overrides`` replace
    ``FabParams`` fields (e.g. ``release_interval=2.0``)."""
    if instance not in INSTANCES:
        raise ValueError(f"Unknown fab instance {instance!r}; choose one of {sorted(INSTANCES)}")
    spec = INSTANCES[instance]
    params, width = _params(spec["routes"], spec["times"], spec["mix"], **spec["rates"])
    if param_overrides:
        unknown = set(param_overrides) - set(FabParams.__dataclass_fields__)
        if unknown:
            raise ValueError(f"Unknown FabParams field(s) {sorted(unknown)}; known: "
                             f"{sorted(FabParams.__dataclass_fields__)}")
        params = params.replace(**{k: jnp.asarray(v) for k, v in param_overrides.items()})
    env = FabEnv(spec["machines_per_group"], spec["num_lots"], spec["num_slots"],
                 num_products=len(spec["routes"]), max_route_length=width, default_params=params,
                 auto_dispatch_single=auto_dispatch_single, name=f"fab/{instance}")
    return env, params
