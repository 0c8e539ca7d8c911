"""JAX-native semiconductor-fab dispatching environments (``fab/<instance>`` ids).

    import envs
    env, params = envs.make("fab/small-v0")        # or "fab/realistic-v0"
    mask = env.action_mask(obs)                    # valid queue slots

See ``envs.fab.env`` for the model, the cost and the observation layout, ``envs.fab.rules``
for the dispatching-rule baselines, and docs/fab.md for results.
"""

from envs.fab.env import (
    MIN_PROC_TIME, SLOT_FEATURE_NAMES, SLOT_FEATURES, FabEnv, FabParams, FabState,
    validate_params,
)
from envs.fab.instances import INSTANCES, instance_loads, make_fab
from envs.fab.rules import RULES, rule_policy, slot_features

__all__ = [
    "FabEnv", "FabParams", "FabState", "MIN_PROC_TIME", "SLOT_FEATURE_NAMES", "SLOT_FEATURES",
    "validate_params", "INSTANCES", "instance_loads", "make_fab", "RULES", "rule_policy",
    "slot_features",
]
