"""The library a peer script trains with: Stable-Baselines3 by default, or sbx (Stable
Baselines Jax: SB3's API on jax and flax) when the script's arguments include `--library sbx`.

Imported by the scripts beside it, in the peer's own virtual environment; it imports nothing
from jaxrl, and a library only when a function here needs it (so the scripts' clocks, started
before, count those imports).
"""

import importlib
import json
import sys
import time

# `--library` value -> the module with the algorithm classes and the JSON's "library" field.
MODULES = {"sb3": "stable_baselines3", "sbx": "sbx"}
NAMES = {"sb3": "stable-baselines3", "sbx": "sbx"}

# SB3 arguments that sbx 0.28.0 has no counterpart for: left out on the sbx side.
SBX_DROPPED = {"ppo": ("clip_range_vf",), "dqn": ("max_grad_norm",)}
# Arguments sbx needs to come nearest to what SB3 does by default.
SBX_POLICY_KWARGS = {"ppo": {"ortho_init": True}}
FLAX_INIT = "weights start from flax's default init (lecun normal), SB3's from torch's (uniform +-1/sqrt(fan_in))"
# sbx jit-compiles inside `model.learn`, so its "warm" (learn) seconds include compilation.
SBX_TIMING = "its learn seconds include jit compilation (sbx compiles inside model.learn)"
# How sbx 0.28.0 still differs from SB3 given the same hyperparameters (the JSON's "notes").
SBX_DIFFERENCES = {
    "ppo": [
        SBX_TIMING,
        "no value-function clipping: sbx PPO takes clip_range_vf but ignores it (SB3 clips the value loss at 0.2)",
        "actor and critic have separate Adam optimizers, each clipping its own gradient norm at max_grad_norm "
        "(SB3: one optimizer and one clip over both networks)",
        "init: ortho_init=True gives only the action head SB3's orthogonal init (gain 0.01); hidden layers and "
        "the value head keep flax's default (lecun normal), where SB3 uses orthogonal gains sqrt(2) and 1",
        "activation_fn: flax.linen's function for SB3's torch.nn module of the same name (tanh for Tanh, "
        "relu for ReLU: the same functions)",
    ],
    "dqn": [SBX_TIMING, "no gradient-norm clipping: sbx DQN has no max_grad_norm (SB3 clips at 10, its default)",
            FLAX_INIT],
    "sac": [SBX_TIMING, FLAX_INIT],
}


def split_argv(argv: list[str]) -> tuple[str, list[str]]:
    """(library, the arguments without `--library NAME`); "sb3" when the option is absent."""
    if "--library" not in argv:
        return "sb3", list(argv)
    at = argv.index("--library")
    library = argv[at + 1] if at + 1 < len(argv) else ""
    if library not in MODULES:
        sys.exit(f"--library {library!r}: one of {', '.join(MODULES)}")
    return library, argv[:at] + argv[at + 2:]


def algorithm(library: str, algo: str):
    """The library's class for `algo` ("ppo", "dqn", "sac")."""
    return getattr(importlib.import_module(MODULES[library]), algo.upper())


def _flax_activation(torch_class):
    """flax.linen's function for a torch activation module class (torch.nn.Tanh -> flax.linen.tanh)."""
    import flax.linen

    return getattr(flax.linen, torch_class.__name__.lower())


def adapt(library: str, algo: str, hyperparameters: dict) -> dict:
    """SB3's keyword arguments for `algo`, as `library` takes them: unchanged for SB3; for sbx
    without the arguments it lacks (SBX_DROPPED), with flax activations and SBX_POLICY_KWARGS."""
    if library == "sb3":
        return hyperparameters
    if hyperparameters.get("use_sde"):
        raise ValueError(f"sbx's {algo} has no gSDE (use_sde); time this case against SB3 only")
    adapted = {k: v for k, v in hyperparameters.items() if k not in SBX_DROPPED.get(algo, ())}
    policy_kwargs = {**adapted.get("policy_kwargs", {}), **SBX_POLICY_KWARGS.get(algo, {})}
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = _flax_activation(policy_kwargs["activation_fn"])
    return {**adapted, "policy_kwargs": policy_kwargs} if policy_kwargs else adapted


def report(library: str, algo: str) -> dict:
    """The JSON fields that describe the library: torch threads and versions, and for sbx the
    jax version and how it differs from SB3 ("notes")."""
    import stable_baselines3
    import torch

    fields = {"torch_threads": torch.get_num_threads(),
              "versions": {"torch": torch.__version__, "stable_baselines3": stable_baselines3.__version__}}
    if library == "sb3":
        return fields
    import flax
    import jax
    import sbx

    fields["versions"] = {"sbx": sbx.__version__, "jax": jax.__version__, "flax": flax.__version__,
                          **fields["versions"]}
    return {**fields, "jax_device": str(jax.devices()[0]), "notes": SBX_DIFFERENCES[algo]}


def print_result(library: str, algo: str, process_start: float, /, **fields) -> None:
    """The one JSON line a peer script ends with: the library's name, `fields`, the seconds
    since `process_start` ("cold_seconds") and `report(library, algo)`."""
    print(json.dumps({"library": NAMES[library], **fields,
                      "cold_seconds": time.perf_counter() - process_start, **report(library, algo)}))
