"""Tuned configurations per algorithm and environment.

A preset names an env, the config overrides, the step budget and the number of seeds. The
return each reaches, measured on this project's CI machine (2-core CPU), is in
docs/presets.md, written by `python scripts/measure_presets.py`. `jaxrl train ALGO --env ENV` uses the
preset named after ENV when one exists; `--preset none` starts from the config defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from envs.brax_adapter import backends as brax_backends
from jaxrl.algos.dqn import RAINBOW


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    algo: str
    env: str
    overrides: dict[str, Any]
    total_steps: int
    num_seeds: int = 4
    env_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    # A published return for this env: `scripts/measure_presets.py` then also evaluates
    # about 20 times along the run and records when the mean over seeds first reaches it.
    target_return: float | None = None

    def config(self, **overrides):
        """The full algorithm config this preset trains with (`overrides` applied last)."""
        from jaxrl import algos
        from jaxrl import config as cfg

        return cfg.apply_overrides(algos.get(self.algo).Config(),
                                   {**self.overrides, "total_steps": self.total_steps, **overrides})

    def agent(self, **overrides):
        """The agent this preset trains: its env (with `env_kwargs`) and `config(**overrides)`."""
        import envs
        from jaxrl import algos

        env, env_params = envs.make(self.env, **self.env_kwargs)
        return algos.get(self.algo).make(env, env_params, self.config(**overrides))


_REFERENCE = dict(num_envs=4, num_steps=128, num_minibatches=4, update_epochs=4,
                  hidden_sizes=(64, 64), activation="tanh", learning_rate=2.5e-4, gamma=0.99,
                  gae_lambda=0.95, clip_eps=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5,
                  anneal_lr=True)

# PPO on MinAtar: separate 256-256 ReLU MLPs for actor and critic over the flattened image.
# With the MinAtar CNN (3x3x16 convolution, 128 dense, shared by actor and critic) and
# otherwise these settings, Breakout-MinAtar stalls at a return of 6-7 from ~500k steps to
# 10M (2 seeds x 10M: 7.4). One seed each, 1M-1.5M steps, family-25 EPYC: the CNN with
# learning rate 2.5e-4, entropy 0.03, separate torsos, no gradient clipping or a 256-256
# dense part all stayed at 6-8; a 64-64 tanh MLP at 6.0; the 256-256 ReLU MLP reached 14
# by 1.5M and was still climbing. Gamma 0.999 and a constant learning rate, as gymnax-blines
# trains its PPO agents (family-25 EPYC, 2 seeds, 2026-12-06): 16.1 at 1M (gamma 0.99 with
# the rate annealed to 0: 9.2) and 44.0 at 10M (25.1), first past 28 at 5.1M steps.
_MINATAR_PPO = dict(num_envs=64, num_steps=128, num_minibatches=8, update_epochs=4,
                    network="mlp", hidden_sizes=(256, 256), activation="relu",
                    learning_rate=5e-4, ent_coef=0.01, gamma=0.999,
                    gae_lambda=0.95, clip_eps=0.2, max_grad_norm=0.5, anneal_lr=False)

# PPO returns gymnax's README (1.0.1) lists for its gymnax-blines agents (10M env steps).
_GYMNAX_PPO_RETURNS = {"Breakout-MinAtar": 28.0, "SpaceInvaders-MinAtar": 131.0}

_PRESETS: list[Preset] = [
    Preset(
        name="CartPole-v1", algo="ppo", env="CartPole-v1",
        # The common reference config (CleanRL / PureJaxRL defaults).
        overrides=_REFERENCE, total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="Acrobot-v1", algo="ppo", env="Acrobot-v1",
        overrides=_REFERENCE, total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="Pendulum-v1", algo="ppo", env="Pendulum-v1",
        # RL Zoo's PPO config for it: 4 envs x 1024 steps, minibatches of 64, 10 epochs, a
        # constant learning rate of 1e-3, gamma 0.9, no value clipping, gSDE renewed every 4
        # steps. At 100k env steps over 16 seeds (root seed 7): -156.0, 13 of 16 seeds at
        # >= -200; with the state-independent Gaussian instead -166.3 (12 of 16). The preset
        # before it (16 envs x 256, normalised observations and rewards) needed 1M env steps
        # for -171.9 (docs/continuous.md).
        overrides=dict(num_envs=4, num_steps=1024, num_minibatches=64, update_epochs=10,
                       learning_rate=1e-3, anneal_lr=False, gamma=0.9, gae_lambda=0.95,
                       ent_coef=0.0, clip_value_loss=False, exploration="gsde", sde_sample_freq=4),
        total_steps=100_000, num_seeds=4,
    ),
    Preset(
        name="brax/inverted_pendulum", algo="ppo", env="brax/inverted_pendulum",
        # Learning rate 1e-3 and no entropy bonus: with 3e-4 and 0.001 the deterministic
        # policy ended below 950 on 3 of 12 seeds (one at 142; 4 seeds through `jaxrl train`:
        # 1000, 966, 1000, 514 with jax's minibatch shuffle, 1000, 583, 1000, 401 with
        # `rollout.permutation`), although the sampled one held 1000; with these, 12 of 12
        # ended at 1000 (`python scripts/steps_to_threshold.py ppo brax/inverted_pendulum
        # --threshold 950 --full --seeds 12 --first-seed 100 --max-steps 200000 --eval-every
        # 20000 --grid ent_coef=0.001,0 --grid learning_rate=3e-4,1e-3`).
        overrides=dict(num_envs=32, num_steps=64, num_minibatches=8, update_epochs=4,
                       learning_rate=1e-3, gamma=0.97, ent_coef=0.0,
                       normalize_observations=True, scale_rewards=True),
        total_steps=200_000, num_seeds=2, env_kwargs={"backend": "positional"},
    ),
    Preset(
        name="Breakout-MinAtar", algo="ppo", env="Breakout-MinAtar",
        # A CPU-sized budget (MinAtar results are usually quoted at 10M steps).
        overrides=_MINATAR_PPO,
        total_steps=1_000_000, num_seeds=2,
    ),
    # The same config at the 10M-step budget MinAtar results are quoted at, timed to the PPO
    # return gymnax's README lists for the game (docs/benchmarks.md).
    *[Preset(name=f"{game}-10M", algo="ppo", env=game, overrides=_MINATAR_PPO,
             total_steps=10_000_000, num_seeds=2, target_return=published)
      for game, published in _GYMNAX_PPO_RETURNS.items()],
    Preset(
        name="CartPole-v1-kl", algo="ppo", env="CartPole-v1",
        # PPO with the adaptive KL penalty instead of clipping (Schulman et al., 2017).
        overrides={**_REFERENCE, "objective": "kl", "kl_target": 0.01, "kl_coef": 1.0},
        total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="CartPole-v1-recurrent", algo="ppo", env="CartPole-v1",
        # Velocities hidden: only cart position and pole angle are observed, so the GRU
        # policy must infer velocities from memory.
        overrides={**_REFERENCE, "recurrent": True, "rnn_size": 64, "num_envs": 16,
                   "num_minibatches": 4, "learning_rate": 1e-3},
        total_steps=500_000, num_seeds=2, env_kwargs={"hide_velocity": True},
    ),
    Preset(
        name="CartPole-v1", algo="a2c", env="CartPole-v1",
        overrides=dict(num_envs=8, num_steps=5, learning_rate=7e-4, ent_coef=0.0),
        total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="Pendulum-v1", algo="a2c", env="Pendulum-v1",
        # RL Zoo's A2C config for it ("almost tuned": 8 envs x 8 steps, GAE lambda 0.9,
        # vf_coef 0.4, RMSprop at 7e-4 annealed, normalised observations and rewards, gSDE
        # from log std -2) with gamma 0.95 instead of 0.99. 8 seeds x 1M (root seed 0): gamma
        # 0.99 -369.0 (3 seeds near -750), 0.9 -245.3, 0.95 -141.0 (root seed 1: -164.5,
        # worst -210.2); with gamma 0.99 and the state-independent Gaussian no seed learned
        # (-977.4). 500k env steps were not enough (-420.1).
        overrides=dict(num_envs=8, num_steps=8, gae_lambda=0.9, vf_coef=0.4, gamma=0.95,
                       anneal_lr=True, normalize_observations=True, scale_rewards=True,
                       exploration="gsde", init_log_std=-2.0),
        total_steps=1_000_000, num_seeds=4,
    ),
    Preset(
        name="MountainCarContinuous-v0", algo="a2c", env="MountainCarContinuous-v0",
        # RL Zoo's A2C config for it: 4 envs x 100 steps, normalised observations and
        # rewards, gSDE renewed every 16 steps from log std 0. 8 seeds x 100k: 89.6 (root
        # seed 0) and 91.1 (root seed 1), every seed at the flag; the state-independent
        # Gaussian with the same config did as well (92.6 and 90.4).
        overrides=dict(num_envs=4, num_steps=100, normalize_observations=True, scale_rewards=True,
                       exploration="gsde", sde_sample_freq=16),
        total_steps=100_000, num_seeds=4,
    ),
    Preset(
        name="CartPole-v1", algo="dqn", env="CartPole-v1",
        # Double DQN over 16 vectorised envs, 2 gradient steps per iteration; MSE loss (with
        # Huber, Q diverged on CartPole: see DQNConfig). Learning from 5k env steps, epsilon
        # decayed over 25k: a 475 evaluation after a median 59.9k env steps over seeds
        # 100-115 and 200-215 (learning from 10k, decay over 50k: 72.4k; learning rates
        # 5e-4 and 1e-3, or target copies every 100 updates, reached it later;
        # docs/optimisation.md). The learning rate decays to 0 over the budget: seeds
        # 100-115 x 500k (`python scripts/steps_to_threshold.py dqn CartPole-v1 --set
        # anneal_lr=true --seeds 16 --first-seed 100 --max-steps 500000 --eval-every 25000
        # --full`) ended at 498.0 (worst 474.7), where a constant rate ended at 487.7 with 3
        # seeds below 475 (worst 417.7), the same median steps to 475 at that granularity.
        overrides=dict(num_envs=16, num_steps=1, gradient_steps=2, batch_size=128,
                       buffer_size=10_000, learning_starts=5_000, double=True, loss="mse",
                       target_update="hard", target_update_interval=50, learning_rate=2.5e-4,
                       epsilon_decay_steps=25_000, anneal_lr=True),
        total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="CartPole-v1", algo="reinforce", env="CartPole-v1",
        overrides=dict(num_envs=8, num_steps=0, learning_rate=1e-3, baseline=True,
                       normalize_returns=True),
        total_steps=1_000_000, num_seeds=4,
    ),
]

# Fab dispatching (envs/fab, docs/fab.md): masked discrete actions over queue slots. Results
# against the dispatching rules on held-out seeds: `python scripts/fab_results.py`.
_FAB_PPO = dict(num_envs=64, num_steps=32, num_minibatches=4, update_epochs=4,
                hidden_sizes=(64, 64), learning_rate=1e-3, gamma=0.99, gae_lambda=0.95,
                ent_coef=0.01, scale_rewards=True, anneal_lr=True)
_PRESETS += [
    Preset(name="fab/small-v0", algo="ppo", env="fab/small-v0", overrides=_FAB_PPO,
           total_steps=500_000, num_seeds=2),
    Preset(name="fab/realistic-v0", algo="ppo", env="fab/realistic-v0",
           overrides={**_FAB_PPO, "num_envs": 64, "num_steps": 64, "num_minibatches": 8,
                      "hidden_sizes": (128, 128), "gamma": 0.995},
           total_steps=2_000_000, num_seeds=1),
]

# The value-based family (docs/presets.md). Rainbow: every switch on (dqn.RAINBOW).
_PRESETS += [
    Preset(
        name="CartPole-v1-rainbow", algo="dqn", env="CartPole-v1",
        overrides={**RAINBOW, "num_envs": 32, "num_steps": 1, "gradient_steps": 2,
                   "batch_size": 128, "buffer_size": 20_000, "learning_starts": 10_000,
                   "target_update": "hard", "target_update_interval": 50, "learning_rate": 5e-4},
        # 500k (was 300k; PER's beta anneals over total_steps): on an AMD EPYC the 300k run
        # ended at 421 over 4 seeds; at 500k every 25k evaluation from 125k on is >= 468.
        total_steps=500_000, num_seeds=4,
    ),
    # PQN tuned for wall time to a solved policy: a 64-64 network (a 4k-step chunk runs in
    # ~28 ms instead of ~50), learning rate 1e-2 decayed to 0 over a 100k budget, lambda
    # 0.95, epsilon from 1 to 0.1 over 25k steps. `python scripts/steps_to_threshold.py pqn
    # CartPole-v1 --full --seeds 24 --first-seed 100 --max-steps 100000`: a 475 evaluation
    # after a median of 20.5k env steps; 23 of 24 seeds end at >= 475 (one at 194; in a
    # sweep batched with other settings, 22 of 24); with RAdam on one vector (2026-12-06)
    # the same median and 20 of 24 (the learning rate 5e-3 or a gradient-norm clip of 1
    # did no better). The config defaults (128-128, learning rate 3e-4, lambda 0.65 then,
    # epsilon to 0.05 over 100k steps, 500k) took a median of 125k env steps and also ended
    # below 475 on 3 of 24 seeds: PQN's greedy CartPole policy sometimes collapses late,
    # once episodes stop failing. docs/optimisation.md has the sweeps.
    Preset(name="CartPole-v1", algo="pqn", env="CartPole-v1",
           overrides=dict(hidden_sizes=(64, 64), learning_rate=1e-2, q_lambda=0.95,
                          epsilon_end=0.1, epsilon_decay_steps=25_000),
           total_steps=100_000),
]

# DQN and PQN on the other classic-control tasks. Acrobot: RL Zoo's DQN settings (256-256,
# learning rate 6.3e-4, target copy every 250 updates, epsilon to 0.1) over 16 envs with one
# update per 4 env steps. MountainCar: the reward is -1 per step until the flag, so
# exploration decides; RL Zoo's DQN settings as RL Zoo lays them out: one env, 8 updates of
# 128 every 16 env steps, gamma 0.98, learning rate 4e-3, epsilon to 0.07 over 24k steps.
# Over 16 envs (one update per 2 env steps of all of them) the same settings never reached
# the flag (-200 on every seed at 200k); with one env every seed of 0-3 and 10-13 evaluated
# at >= -150 by 80k-140k env steps and ended (200k) at -124.5 and -116.1 on average (worst
# seed -160.1; docs/optimisation.md). PQN: its CartPole defaults with epsilon decayed over
# the first fifth of the run; on MountainCar also 8 times the gradient steps (64 minibatches
# x 8 epochs), learning rate 3e-3 and lambda 0.95: with the defaults' replay (16 x 4) it never
# reached the flag (-200; one of 32 runs of a sweep reached -150), with these 11 of 12 seeds
# ended at -150 or better (docs/optimisation.md). Measured (docs/presets.md): Acrobot DQN
# -77.3 (4 x 200k), PQN -86.2 (4 x 500k).
_PRESETS += [
    Preset(name="Acrobot-v1", algo="dqn", env="Acrobot-v1",
           overrides=dict(num_envs=16, num_steps=1, gradient_steps=4, batch_size=128,
                          buffer_size=50_000, learning_starts=5_000, hidden_sizes=(256, 256),
                          learning_rate=6.3e-4, target_update_interval=250, loss="huber",
                          epsilon_end=0.1, epsilon_decay_steps=25_000),
           total_steps=200_000, num_seeds=4),
    Preset(name="MountainCar-v0", algo="dqn", env="MountainCar-v0",
           overrides=dict(num_envs=1, num_steps=16, gradient_steps=8, batch_size=128,
                          buffer_size=10_000, learning_starts=1_000, hidden_sizes=(256, 256),
                          learning_rate=4e-3, gamma=0.98, target_update_interval=600,
                          loss="huber", epsilon_end=0.07, epsilon_decay_steps=24_000),
           total_steps=200_000, num_seeds=4),
    Preset(name="Acrobot-v1", algo="pqn", env="Acrobot-v1",
           overrides=dict(q_lambda=0.65, epsilon_decay_steps=100_000), total_steps=500_000,
           num_seeds=4),
    Preset(name="MountainCar-v0", algo="pqn", env="MountainCar-v0",
           overrides=dict(num_minibatches=64, update_epochs=8, learning_rate=3e-3,
                          q_lambda=0.95, epsilon_decay_steps=100_000),
           total_steps=500_000, num_seeds=4),
]

# The value-based family on MinAtar (results: docs/benchmarks.md, "Learning results at CPU
# budgets"): the MinAtar CNN (3x3x16
# convolution, 128 dense) as in Young & Tian (2019). DQN: 16 envs, 4 gradient steps of batch
# 64 per iteration (one update per 4 env steps, the MinAtar paper's replay ratio with
# batch 32 x 2), buffer 100k, Huber loss (MinAtar rewards are 0/1), epsilon 1 -> 0.05 over
# 100k steps. Rainbow: the same shapes with every switch on, returns supported on [0, 50]
# (on every game but Breakout with DQN's epsilon-greedy on top of the noisy layers, below).
# PQN: 128 envs x 32 steps, 32 minibatches x 2 epochs, lambda 0.65, epsilon decay over
# the first 10% of the run, learning rate 5e-4 decayed linearly (the MinAtar config
# published with PQN, Gallici et al., 2024).
_MINATAR_DQN = dict(num_envs=16, num_steps=1, gradient_steps=4, batch_size=64,
                    buffer_size=100_000, learning_starts=10_000, hidden_sizes=(128,),
                    double=True, loss="huber", target_update="hard",
                    target_update_interval=250, learning_rate=2.5e-4,
                    epsilon_decay_steps=100_000)
_MINATAR_PQN = dict(num_envs=128, num_steps=32, num_minibatches=32, update_epochs=2,
                    hidden_sizes=(128,), learning_rate=5e-4, q_lambda=0.65,
                    max_grad_norm=10.0, epsilon_decay_steps=300_000)
# Every MinAtar game has a DQN and a PQN preset, with the same hyperparameters for all games
# (as the MinAtar and PQN papers use one config for all games). Rainbow has a preset where
# these shapes learned. Seaquest has none: there the same Rainbow config ended 500k steps at
# 0.6 (2 seeds) where DQN's preset reaches 7.9, and at 2.9 with 1-step returns (docs/algorithms.md,
# DQN).
_MINATAR_GAMES = ("Asterix-MinAtar", "Breakout-MinAtar", "Freeway-MinAtar", "Seaquest-MinAtar",
                  "SpaceInvaders-MinAtar")
# The games with a Rainbow preset, and where each departs from Rainbow's switches
# (docs/algorithms.md, DQN, has the ablations). On SpaceInvaders the noisy output layers alone do
# not explore enough: with them as the only exploration Rainbow stayed near 15 (4 seeds x 500k:
# 15.2), at any noise scale tried; with DQN's epsilon-greedy (1 -> 0.05 over 100k steps) on top it
# reached 62.5 at 300k (2 seeds; DQN's preset 35.0) and 81.0 at 500k (DQN's 70.5). Freeway and
# Asterix, added after that finding, get the same epsilon-greedy on top; only Breakout's Rainbow
# explores with its noisy layers alone. Asterix learns with 1-step returns: with Rainbow's 3-step
# returns it ended 500k steps at 1.5 (2 seeds; DQN's preset 8.8), with 1-step 31.6 (and 3-step
# returns alone take DQN's preset to 0.9).
_EPSILON_ON_TOP = dict(epsilon_start=1.0, epsilon_end=0.05)  # over _MINATAR_DQN's 100k steps
_MINATAR_RAINBOW_CHANGES = {
    "Asterix-MinAtar": {**_EPSILON_ON_TOP, "n_step": 1},
    "Breakout-MinAtar": {},
    "Freeway-MinAtar": _EPSILON_ON_TOP,
    "SpaceInvaders-MinAtar": _EPSILON_ON_TOP,
}
_PRESETS += [
    Preset(name=game, algo="dqn", env=game, overrides=_MINATAR_DQN, total_steps=500_000,
           num_seeds=2)
    for game in _MINATAR_GAMES
] + [
    Preset(name=f"{game}-rainbow", algo="dqn", env=game,
           overrides={**_MINATAR_DQN, **RAINBOW, "v_min": 0.0, "v_max": 50.0,
                      **_MINATAR_RAINBOW_CHANGES[game]},
           total_steps=500_000, num_seeds=2)
    for game in _MINATAR_RAINBOW_CHANGES
] + [
    Preset(name=game, algo="pqn", env=game, overrides=_MINATAR_PQN, total_steps=3_000_000,
           num_seeds=2)
    for game in _MINATAR_GAMES
]

# PPO on Brax locomotion (results: docs/continuous.md, "Locomotion"): 128 envs x 32 steps per
# iteration, 32 minibatches of 128 x 10 epochs, normalised observations and scaled rewards,
# on the CPU-practical "spring" backend like the off-policy presets below. The budget is what the
# 2-core CPU runs in a few minutes, far below the tens of millions of steps Brax's own PPO
# configs use.
_BRAX_PPO = dict(num_envs=128, num_steps=32, num_minibatches=32, update_epochs=10,
                 hidden_sizes=(256, 256), learning_rate=3e-4, gamma=0.97, gae_lambda=0.95,
                 ent_coef=1e-3, max_grad_norm=1.0, normalize_observations=True,
                 scale_rewards=True)
# Halfcheetah and ant start from a policy std of exp(-1) = 0.37 instead of 1: ant's control
# cost (0.5 x the squared action summed over 8 joints, ~2.2 per step at std 1, clipped)
# outweighs its healthy reward of 1, and PPO learned to end episodes early (1M steps, seeds
# 0-1, `scripts/steps_to_threshold.py ppo brax/ant --threshold 1000 --seeds 2 --max-steps
# 1000000 --eval-every 250000 --full --set init_log_std=V`): 4064.5 at -1, 1646.5 at -0.5,
# 3723.4 at -1.5, the preset at 0 113.9; halfcheetah 2607.9 at -1 against 2056.1. Hopper
# kept 0: 403.2 at -1 against 417.6 (docs/continuous.md).
# The 10 epochs of 32 minibatches of 128 (10x the 4 of 8 of 512 these presets had) came from
# hopper, with gamma 0.99: seeds 0-1 700.5 (worst 606.6), seeds 2-3 700.5 (638.7), against
# 447.6 and 402.3 (397.5) with 4 of 8 and 0.97 (`--set update_epochs=10 --set num_minibatches=32
# --grid learning_rate=1e-4,3e-4 --grid gamma=0.99`; 1e-4 570.8, 1e-3 on seeds 2-3 646.0);
# the preset 1091.3 in 215 s, against 417.6 in 123 s. Halfcheetah and ant gain from them as
# well (seeds 0-1; ant through the sweep 6387.6 against 4064.5): through the presets
# halfcheetah 2765.6 in 470 s against 2220.0 in 367 s, ant 5854.2 in 420 s against 2644.2 in
# 247 s.
# Walker2d (2026-12-07, 1M steps, `--full --grid gamma=...` as above, `--set init_log_std=V`):
# seeds 0-1 at std 1 gamma 0.99 507.7, 0.995 534.2, 0.999 746.4; at exp(-0.5) gamma 0.99
# 404.3, 0.995 938.7, 0.999 1044.8 (worst 1028.6); seeds 2-3 at exp(-0.5) 0.995 1015.5 (655.3),
# 0.999 1023.6 (1022.0). Humanoid, seeds 0-1 at std 1: gamma 0.97 1403.7 (worst 1402.8), 0.99
# 3117.1 (1938.1). Swimmer (gamma 0.9999, RL Zoo's choice there), seeds 0-1: 182.2 (13.9)
# against 23.0 (18.4) at 0.99; one seed of two leaves the slow local optimum (the preset: 25.9
# and 256.7), so it is not robust.
_BRAX_PPO_SETTINGS = {
    "hopper": {"gamma": 0.99},
    "walker2d": {"gamma": 0.999, "init_log_std": -0.5},
    "humanoid": {"gamma": 0.99},
    "halfcheetah": {"init_log_std": -1.0},
    "ant": {"init_log_std": -1.0},
    "swimmer": {"gamma": 0.9999},
}


def _brax_cpu_backend(name: str) -> dict[str, str]:
    """Brax presets pin "spring", the CPU-practical backend, where the env runs on it; swimmer
    runs on "generalized" only (~8k env steps/s here, a tenth of spring's)."""
    supported = brax_backends(name)
    return {"backend": "spring" if "spring" in supported else supported[0]}


_PRESETS += [
    Preset(name=f"brax/{name}", algo="ppo", env=f"brax/{name}", overrides={**_BRAX_PPO, **settings},
           total_steps=1_000_000, num_seeds=2, env_kwargs=_brax_cpu_backend(name))
    for name, settings in _BRAX_PPO_SETTINGS.items()
]

# Continuous-control off-policy (SAC, TD3, DDPG; docs/continuous.md). Pendulum: 8 envs and
# 4 gradient steps per iteration (0.5 per env step, batch 128) with small 64-64 networks,
# which reach -200 in a few thousand gradient steps; Brax: the CPU-practical "spring"
# backend by default (--backend positional|spring|generalized to change it).
_PENDULUM_OFF_POLICY = dict(num_envs=8, num_steps=1, gradient_steps=4, batch_size=128,
                            buffer_size=30_000, learning_starts=1_000, hidden_sizes=(64, 64),
                            actor_lr=1e-3, critic_lr=1e-3, gamma=0.99, tau=0.005)
_BRAX_OFF_POLICY = dict(num_envs=16, num_steps=1, gradient_steps=8, batch_size=256,
                        buffer_size=200_000, learning_starts=5_000, hidden_sizes=(256, 256),
                        actor_lr=3e-4, critic_lr=3e-4, gamma=0.99, tau=0.005)
# brax/inverted_pendulum: one replayed batch of 256 per env step and tau 0.01 (see below).
_BRAX_PENDULUM_OFF_POLICY = {**_PENDULUM_OFF_POLICY, "gradient_steps": 8, "batch_size": 256,
                             "tau": 0.01}
_PRESETS += [
    # SAC: learning from 500 env steps, critics at learning rate 1e-2 and tau 0.05 reach -200
    # after a median 2k env steps instead of 8k (seeds 0-7 and 100-123, every one ending at
    # >= -200 after 20k; docs/optimisation.md has the sweep).
    Preset(name="Pendulum-v1", algo="sac", env="Pendulum-v1",
           overrides={**_PENDULUM_OFF_POLICY, "learning_starts": 500, "critic_lr": 1e-2, "tau": 0.05,
                      "alpha_lr": 1e-3},
           total_steps=20_000, num_seeds=4),
    # TD3 at 50k (the budget): at 20k an AMD EPYC run ended at -228 over 4 seeds
    # (-136 on an Intel Xeon); from 25k to 50k its evaluations stay within -143..-159.
    Preset(name="Pendulum-v1", algo="td3", env="Pendulum-v1",
           overrides=_PENDULUM_OFF_POLICY, total_steps=50_000, num_seeds=4),
    Preset(name="Pendulum-v1", algo="ddpg", env="Pendulum-v1",
           overrides=_PENDULUM_OFF_POLICY, total_steps=20_000, num_seeds=4),
    # MountainCarContinuous-v0: the reward sits behind a climb that per-step noise does not
    # find. TD3 and DDPG explore with Ornstein-Uhlenbeck noise of 0.5 (RL Zoo's choice for
    # TD3): all 4 seeds of each reach the flag by 80k env steps. With Gaussian noise of 0.5
    # instead (4 x 50k) TD3 stood still (-0.2), and so did SAC with a fixed temperature of
    # 0.1 (-0.001). SAC explores it with gSDE, RL Zoo's config for it: one env, 32 gradient
    # steps of 512 every 32 env steps, fixed temperature 0.1, gamma 0.9999, tau 0.01, 64-64,
    # noise log std -3.67 (docs/continuous.md).
    Preset(name="MountainCarContinuous-v0", algo="sac", env="MountainCarContinuous-v0",
           overrides=dict(num_steps=32, gradient_steps=32, batch_size=512, buffer_size=50_000,
                          learning_starts=0, hidden_sizes=(64, 64), exploration="gsde",
                          log_std_init=-3.67, autotune_alpha=False, init_alpha=0.1,
                          gamma=0.9999, tau=0.01),
           total_steps=50_000, num_seeds=4),
] + [
    Preset(name="MountainCarContinuous-v0", algo=algo, env="MountainCarContinuous-v0",
           overrides=dict(num_envs=8, gradient_steps=4, batch_size=256, buffer_size=100_000,
                          learning_starts=1_000, hidden_sizes=(64, 64), exploration="ou",
                          exploration_noise=0.5, gamma=0.99, actor_lr=1e-3, critic_lr=1e-3),
           total_steps=100_000, num_seeds=4)
    for algo in ("td3", "ddpg")
] + [
    # SAC on brax/inverted_pendulum: the "positional" backend (as the PPO preset) and one
    # replayed batch of 256 per env step (8 gradient steps per 8-env iteration), tau 0.01.
    # The Pendulum settings (0.5 gradient steps of batch 128 per env step, tau 0.005) learn
    # a policy that pushes the cart into its rail limit (x = -1) and falls after ~100 steps.
    # Measured here at 20k env steps: root seed 0, 2 seeds: 1000, 1000; root seed 1, 4 seeds:
    # 1000, 1000, 116.5, 1000. Not robust yet: longer runs can fall back after solving (root
    # seed 0 at 32k: 1000, 754). On "spring" the pole barely feels gravity near upright
    # (linearised d(omega)/d(theta) per step 5e-4 vs 0.155 on positional), an LQR designed on
    # it fails, and this config reaches only ~70 there.
    Preset(name="brax/inverted_pendulum", algo="sac", env="brax/inverted_pendulum",
           overrides={**_BRAX_PENDULUM_OFF_POLICY, "alpha_lr": 1e-3},
           total_steps=20_000, num_seeds=2, env_kwargs={"backend": "positional"}),
    # TD3 and DDPG: the same backend and replay settings as SAC's. TD3 needs more than 20k
    # env steps: seeds 0-3 vmapped (`scripts/steps_to_threshold.py td3 brax/inverted_pendulum
    # --threshold 950 --seeds 4 --max-steps 50000 --eval-every 5000 --full --grid
    # tau=0.005,0.01`) first evaluated >= 950 at 20k-35k and all ended at 1000 at 50k (with
    # tau 0.005: 30k-50k, also all 1000); sweeps ending at 20k (exploration noise 0.1 or
    # 0.3, actor lr 1e-3 or 3e-4, gamma 0.99-0.999) ended below 950 in all 28 runs.
    Preset(name="brax/inverted_pendulum", algo="td3", env="brax/inverted_pendulum",
           overrides=_BRAX_PENDULUM_OFF_POLICY,
           total_steps=50_000, num_seeds=2, env_kwargs={"backend": "positional"}),
    # DDPG (measured at 20k env steps: one of the two seeds solves it, 1000, the other stays
    # near 100-150) learns it and loses it again: seeds 0-3 first evaluated >= 950 at
    # 15k-25k, but at 50k only 1-3 of 4 stood at >= 950 for every actor/critic learning rate
    # in {1e-3, 3e-4}^2 and tau in {0.01, 0.02}, and 2 of 4 with LayerNorm (TD3's twin
    # critics and delayed actor are what keep it); likewise gamma 0.98 or 0.95 and actor lr
    # 1e-4 or 3e-5 (docs/continuous.md). Left at 20k.
    Preset(name="brax/inverted_pendulum", algo="ddpg", env="brax/inverted_pendulum",
           overrides=_BRAX_PENDULUM_OFF_POLICY,
           total_steps=20_000, num_seeds=2, env_kwargs={"backend": "positional"}),
] + [
    # LayerNorm in actor and critics. TD3 and DDPG: without it their tanh actors saturated at
    # the action bounds a few hundred gradient steps after the warm-up on hopper and
    # halfcheetah and never left them (TD3 hopper: 10-step episodes for 95k env steps). SAC
    # on halfcheetah, seeds 0-3 vmapped x 50k (`scripts/steps_to_threshold.py sac
    # brax/halfcheetah --seeds 4 --max-steps 50000 --full [--set ...]`): final 1360.4, the
    # worst seed 1058.6, against 347.5 (worst -31.4) without it and 285.2 (-60.0) with gSDE;
    # the presets themselves (2 seeds): halfcheetah 977.4 (was 367.3), ant 1168.9 (711.3;
    # seeds 2-3 vmapped: 1181.5 against 648.0), at ~10-30% more wall time. Not on hopper:
    # seeds 0-3 the same way ended at 271.0 (worst 82.0) with it, 314.0 (238.7) without
    # (docs/continuous.md). TD3's halfcheetah preset ends at 510.6 on its 2 seeds, the same
    # settings over seeds 0-3 at 1087.0 (worst 706.4); a policy delay of 1 and other target
    # or exploration noise stayed within that spread (docs/continuous.md). Walker2d and
    # humanoid (added 2026-12-08) take the same settings, LayerNorm included, untuned.
    Preset(name=f"brax/{name}", algo=algo, env=f"brax/{name}",
           overrides={**_BRAX_OFF_POLICY, "layer_norm": not (algo == "sac" and name == "hopper"),
                      **({"alpha_lr": 3e-4} if algo == "sac" else {})},
           total_steps=50_000, num_seeds=2, env_kwargs=_brax_cpu_backend(name))
    for name in ("hopper", "halfcheetah", "ant", "walker2d", "humanoid")
    for algo in ("sac", "td3", "ddpg")
]

PRESETS: dict[tuple[str, str], Preset] = {(p.algo, p.name): p for p in _PRESETS}


def names(algo: str) -> list[str]:
    return [name for (a, name) in PRESETS if a == algo]


def _variant(preset: Preset) -> str | None:
    """What a preset's name adds to its env's: "rainbow" for "Breakout-MinAtar-rainbow"."""
    prefix = preset.env + "-"
    return preset.name[len(prefix):] if preset.name.startswith(prefix) else None


def get(algo: str, name: str, env: str | None = None) -> Preset:
    """The preset `name` of `algo`, or a ValueError listing the available ones.

    With `env`, a variant name resolves to the env's preset of that variant: `get("dqn",
    "rainbow", "Breakout-MinAtar")` is the preset "Breakout-MinAtar-rainbow"."""
    if (algo, name) in PRESETS:
        return PRESETS[(algo, name)]
    if env is not None and (algo, f"{env}-{name}") in PRESETS:
        return PRESETS[(algo, f"{env}-{name}")]
    own = [p for (a, _), p in PRESETS.items() if a == algo]
    variants = [p for p in own if _variant(p) == name]
    if env is not None and variants:
        raise ValueError(
            f"No {name!r} preset of {algo} for {env}; {algo} has {name!r} presets for "
            f"{', '.join(p.env for p in variants)} ({', '.join(p.name for p in variants)}). "
            f"Choose one of those envs, or start from {env}'s preset and --set the switches."
        )
    available = [p.name for p in own]
    suffixes = sorted({_variant(p) for p in own} - {None})
    close = difflib.get_close_matches(name, available + suffixes, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"No preset {name!r} for {algo}.{hint} Available: {', '.join(available) or 'none'}; "
        "or --preset none for the config defaults."
    )


def for_env(algo: str, env: str) -> Preset | None:
    """The preset named after `env` for `algo`, if any."""
    return PRESETS.get((algo, env))
