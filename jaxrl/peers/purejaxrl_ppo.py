"""PureJaxRL's PPO (purejaxrl/ppo.py) on CartPole-v1 with the reference hyperparameters;
prints one JSON line.

PureJaxRL is a repository of single-file algorithms, not a package: clone it
(https://github.com/luchris429/purejaxrl) and `jaxrl benchmark --peers purejaxrl
--purejaxrl-src CHECKOUT` runs this script with the interpreter of a virtual environment that
has its dependencies (gymnax 0.0.9, whose 5-tuple steps it uses; brax, which its wrappers
import):

    python purejaxrl_ppo.py CHECKOUT TOTAL_STEPS SEED_COUNTS [--cold]

The reference config is PureJaxRL's own CartPole-v1 config (the `__main__` of its ppo.py), so
nothing departs from it but `DEBUG` (off: no printing callback). For each seed count its
`make_train(config)` is vmapped over that many keys and jit-compiled, as its README trains
seeds in parallel, compiled once and timed warm, the fastest of as many runs as ours gets.
It returns every step's episode statistics besides the train state, as it does for its
users. The return is ours: a deterministic (argmax) evaluation of 10 episodes per seed.
With `--cold`: one seed, trained once (the benchmark times that process from the outside).
"""

import hashlib
import subprocess
import sys
import time
from pathlib import Path

process_start = time.perf_counter()

checkout = sys.argv[1]
sys.path.insert(0, checkout)

import gymnax  # noqa: E402
import jax  # noqa: E402
from jax_peer_library import greedy_returns, print_ppo_result, seed_runs, time_vmapped_seeds, versions  # noqa: E402
from purejaxrl.ppo import ActorCritic, make_train  # noqa: E402

CONFIG = {
    "LR": 2.5e-4, "NUM_ENVS": 4, "NUM_STEPS": 128, "UPDATE_EPOCHS": 4, "NUM_MINIBATCHES": 4,
    "GAMMA": 0.99, "GAE_LAMBDA": 0.95, "CLIP_EPS": 0.2, "ENT_COEF": 0.01, "VF_COEF": 0.5,
    "MAX_GRAD_NORM": 0.5, "ACTIVATION": "tanh", "ENV_NAME": "CartPole-v1", "ANNEAL_LR": True,
    "DEBUG": False,
}


def source_version(path: str) -> str:
    """The checkout's commit, or (not a git checkout) the hash of the ppo.py that ran."""
    out = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True)
    if out.returncode == 0:
        return f"commit {out.stdout.strip()[:12]}"
    with open(Path(path) / "purejaxrl" / "ppo.py", "rb") as f:
        return f"ppo.py sha256 {hashlib.sha256(f.read()).hexdigest()[:12]}"


def main():
    total_steps, counts = seed_runs(sys.argv[2:])
    config = {**CONFIG, "TOTAL_TIMESTEPS": total_steps}
    train = make_train(dict(config))
    steps = config["TOTAL_TIMESTEPS"] // (4 * 128) * (4 * 128)
    env, env_params = gymnax.make("CartPole-v1")
    network = ActorCritic(env.action_space(env_params).n, activation="tanh")

    def seed_returns(output, eval_keys):
        params = output["runner_state"][0].params

        def returns(p, key):
            return greedy_returns(env, env_params, lambda obs: network.apply(p, obs)[0].logits, key)

        return jax.jit(jax.vmap(returns))(params, eval_keys)

    seeds = [time_vmapped_seeds(train, n, repeats, seed_returns, steps) for n, repeats in counts]
    print_ppo_result("PureJaxRL", steps, seeds, process_start,
                     {"purejaxrl": source_version(checkout), **versions("jax", "flax", "gymnax")})


if __name__ == "__main__":
    main()
