"""Stable-Baselines3 (or sbx) on one of our JAX environments with the hyperparameters of one
of our presets, for a fixed budget; prints one JSON line.

Run by `jaxrl benchmark --only cases` with the interpreter of a virtual environment that has
stable-baselines3 and our environments' dependencies (jax, gymnax, brax) installed:

    python sb3_cases.py CASE_JSON SEED [--library sbx]

CASE_JSON (written by `jaxrl.benchmark.peer_case`) names the env, the directory holding our
`envs` package, the number of envs, the algorithm's SB3 keyword arguments, and for PPO the
learning-rate annealing and the observation/reward normalisation. The env is ours (the same
dynamics, auto-reset and time limit as our side trains on), stepped for SB3 as a `VecEnv`:
one compiled, vmapped step of all envs per call, compiled before `model.learn` starts, so the
learn seconds are SB3's loop and the env's steps, not jax's compilation. Observations are
flattened (as SB3's `MlpPolicy` flattens images). Evaluation: 10 deterministic episodes, one
in each of 10 envs, with the training run's observation statistics when they are normalised.
"""

import json
import sys
import time

process_start = time.perf_counter()

import numpy as np  # noqa: E402
from peer_library import adapt, algorithm, print_result, split_argv  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, VecNormalize  # noqa: E402


class JaxVecEnv(VecEnv):
    """`num_envs` copies of one of our environments (`envs.make(env_id, **env_kwargs)`, with its
    auto-reset and episode statistics) behind SB3's VecEnv interface."""

    render_mode = None

    def __init__(self, env_id: str, env_kwargs: dict, num_envs: int, seed: int):
        import envs
        import gymnasium
        import jax
        import jax.numpy as jnp

        env, params = envs.make(env_id, **env_kwargs)
        obs_space, act_space = env.observation_space(params), env.action_space(params)
        self.discrete = isinstance(act_space, envs.Discrete)
        flat = int(np.prod(obs_space.shape))
        observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (flat,), np.float32)
        if self.discrete:
            action_space = gymnasium.spaces.Discrete(act_space.n)
        else:
            action_space = gymnasium.spaces.Box(np.broadcast_to(act_space.low, act_space.shape).astype(np.float32),
                                                np.broadcast_to(act_space.high, act_space.shape).astype(np.float32))
        super().__init__(num_envs, observation_space, action_space)

        def flatten(obs):
            return obs.reshape((num_envs, flat)).astype(jnp.float32)

        def reset(key):
            key, sub = jax.random.split(key)
            obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(sub, num_envs), params)
            return key, state, flatten(obs)

        def step(key, state, action):
            key, sub = jax.random.split(key)
            obs, state, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(sub, num_envs), state, action, params)
            return (key, state, flatten(obs), reward.astype(jnp.float32), terminated, truncated,
                    flatten(info["final_obs"]))

        # Compiled here, ahead of time, so `model.learn` times no compilation of the env.
        compile_start = time.perf_counter()
        self.key = jax.random.PRNGKey(seed)
        self._reset = jax.jit(reset).lower(self.key).compile()
        state_shape = jax.eval_shape(reset, self.key)[1]
        action_shape = jax.ShapeDtypeStruct((num_envs,) + act_space.shape,
                                            jnp.int32 if self.discrete else jnp.float32)
        self._step = jax.jit(step).lower(self.key, state_shape, action_shape).compile()
        self.compile_seconds = time.perf_counter() - compile_start
        self.state, self.actions = None, None

    def reset(self):
        self.key, self.state, obs = self._reset(self.key)
        return np.array(obs)

    def step_async(self, actions):
        self.actions = np.asarray(actions, np.int32 if self.discrete else np.float32).reshape(
            (self.num_envs,) + self.action_space.shape)

    def step_wait(self):
        self.key, self.state, *arrays = self._step(self.key, self.state, self.actions)
        # Copies: jax hands out read-only views, and torch warns on tensors from them.
        obs, reward, terminated, truncated, final_obs = (np.array(a) for a in arrays)
        dones = terminated | truncated
        infos = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            # SB3 bootstraps from the terminal observation where a time limit, not the task, ended it.
            infos[i] = {"terminal_observation": final_obs[i],
                        "TimeLimit.truncated": bool(truncated[i] and not terminated[i])}
        return obs, reward, dones, infos

    def close(self):
        pass

    def get_attr(self, attr_name, indices=None):
        return [getattr(self, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name, value, indices=None):
        setattr(self, attr_name, value)

    def env_method(self, method_name, *args, indices=None, **kwargs):
        raise NotImplementedError(f"JaxVecEnv has no per-env method {method_name!r}")

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False] * len(self._get_indices(indices))


def _activation(name: str):
    import torch

    return {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[name]


def hyperparameters(case: dict) -> dict:
    """SB3's keyword arguments from the case's (JSON) description."""
    kwargs = dict(case["kwargs"])
    policy_kwargs = {**case.get("policy_kwargs", {}), "activation_fn": _activation(case["activation"])}
    if case["algo"] == "ppo" and case["anneal_lr"]:
        rate = kwargs["learning_rate"]
        kwargs["learning_rate"] = lambda progress_remaining: rate * progress_remaining
    return {**kwargs, "policy_kwargs": policy_kwargs}


def main():
    library, argv = split_argv(sys.argv[1:])
    case, seed = json.loads(argv[0]), int(argv[1])
    sys.path.insert(0, case["envs_path"])  # our `envs` package, imported by JaxVecEnv
    env = JaxVecEnv(case["env"], case.get("env_kwargs", {}), case["num_envs"], seed)
    compile_seconds = env.compile_seconds
    env = VecMonitor(env)
    normalize = case.get("normalize")
    if normalize:
        env = VecNormalize(env, norm_obs=normalize["obs"], norm_reward=normalize["reward"],
                           gamma=case["kwargs"]["gamma"])
    kwargs = hyperparameters(case)
    if case["algo"] == "sac":
        dims = int(np.prod(env.action_space.shape))
        kwargs["target_entropy"] = case["target_entropy_per_dim"] * dims
    model = algorithm(library, case["algo"])("MlpPolicy", env, device="cpu", seed=seed, verbose=0,
                                             **adapt(library, case["algo"], kwargs))
    learn_start = time.perf_counter()
    model.learn(total_timesteps=case["total_steps"])
    learn_seconds = time.perf_counter() - learn_start

    eval_env = JaxVecEnv(case["env"], case.get("env_kwargs", {}), 10, seed + 1000)
    compile_seconds += eval_env.compile_seconds
    eval_env = VecMonitor(eval_env)
    if normalize:
        eval_env = VecNormalize(eval_env, training=False, norm_obs=normalize["obs"], norm_reward=False)
        eval_env.obs_rms = env.obs_rms
    mean_return, std_return = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
    print_result(library, case["algo"], process_start, algo=case["algo"], env=case["env"],
                 env_steps=int(model.num_timesteps), learn_seconds=learn_seconds,
                 steps_per_second=model.num_timesteps / learn_seconds, env_compile_seconds=compile_seconds,
                 mean_return=float(mean_return), std_return=float(std_return))


if __name__ == "__main__":
    main()
