"""Learning tests for the continuous-control off-policy agents: the presets reach their
returns within the issue's step budgets (final deterministic evaluation over all vmapped
seeds, through the same driver users run)."""

import pytest

from tiny_configs import run_preset


@pytest.mark.slow
@pytest.mark.parametrize("algo_name,budget,threshold", [
    ("sac", 30_000, -200.0),
    ("td3", 50_000, -200.0),
    ("ddpg", 50_000, -250.0),
])
def test_off_policy_pendulum_presets(algo_name, budget, threshold, tmp_path):
    summary = run_preset(algo_name, "Pendulum-v1", tmp_path).summary
    assert summary["num_seeds"] >= 4 and summary["env_steps"] <= budget
    assert summary["mean_return"] >= threshold, summary


@pytest.mark.slow
def test_sac_brax_inverted_pendulum_preset(tmp_path):
    # The acceptance: >= 900 (1000 = the pole stays up for the whole episode). The
    # preset (positional backend, 2 seeds x 20k env steps) reaches 1000 on both seeds here;
    # other seeds are less reliable (see the preset's comment in jaxrl/presets.py).
    summary = run_preset("sac", "brax/inverted_pendulum", tmp_path).summary
    assert summary["num_seeds"] >= 2 and summary["env_steps"] <= 20_000
    assert summary["mean_return"] >= 900, summary


@pytest.mark.slow
def test_ddpg_mountain_car_continuous_preset_reaches_the_flag(tmp_path):
    # The reward (+100 at the flag, minus the energy spent) sits behind a climb that
    # per-step Gaussian noise never finds (TD3 with it stood still at -0.2); the preset's
    # Ornstein-Uhlenbeck noise does: 92.9 here (seeds 94.1, 93.6, 90.5, 93.6).
    summary = run_preset("ddpg", "MountainCarContinuous-v0", tmp_path).summary
    assert summary["num_seeds"] >= 4 and summary["env_steps"] <= 100_000
    assert summary["mean_return"] >= 85, summary


@pytest.mark.slow
def test_sac_gsde_mountain_car_continuous_reaches_the_flag(tmp_path):
    # SAC's preset explores with gSDE (RL Zoo's config). The same config with SAC's
    # per-step Gaussian stood still (-0.009 over 4 seeds x 50k); at 16k env steps gSDE's
    # 4 seeds were at 91.7-93.5 here (the preset's full 50k: 95.2).
    summary = run_preset("sac", "MountainCarContinuous-v0", tmp_path, total_steps=16_000).summary
    assert summary["num_seeds"] >= 4
    assert summary["mean_return"] >= 80, summary
