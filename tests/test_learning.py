"""Learning tests: the presets reach their returns within their step budgets.

Each trains several vmapped seeds through the same driver users run (`jaxrl.run`) and
asserts on the final deterministic evaluation over all seeds.
"""

import json

import pytest

from tiny_configs import run_preset


@pytest.mark.slow
def test_ppo_cartpole_preset_solves_within_500k_steps(tmp_path):
    result = run_preset("ppo", "CartPole-v1", tmp_path)
    summary = result.summary
    assert summary["num_seeds"] >= 4 and summary["env_steps"] <= 500_000
    assert summary["mean_return"] >= 475, summary
    # The run directory the CLI documents.
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    for key in ("algo", "env", "num_seeds", "env_steps", "mean_return", "std_return", "min_return",
                "max_return", "wall_seconds", "compile_seconds", "steps_per_second"):
        assert key in on_disk
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"]["num_envs"] == 4 and config["preset"] == "CartPole-v1"
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("iteration,env_steps") and len(rows) > 10
    assert (tmp_path / "curve.png").stat().st_size > 1000


@pytest.mark.slow
def test_ppo_continuous_pendulum_preset(tmp_path):
    # RL Zoo's config with gSDE: -177.1 here (seeds -234.2, -149.4, -176.1, -148.8).
    summary = run_preset("ppo", "Pendulum-v1", tmp_path).summary
    assert summary["num_seeds"] >= 4 and summary["env_steps"] <= 100_000
    assert summary["mean_return"] >= -250, summary


@pytest.mark.slow
def test_ppo_brax_inverted_pendulum_preset(tmp_path):
    summary = run_preset("ppo", "brax/inverted_pendulum", tmp_path).summary
    assert summary["mean_return"] >= 800, summary


@pytest.mark.slow
@pytest.mark.parametrize("algo_name,preset_name,budget", [
    ("a2c", "CartPole-v1", 500_000),
    ("ppo", "CartPole-v1-kl", 500_000),
    ("reinforce", "CartPole-v1", 1_000_000),
])
def test_policy_gradient_family_solves_cartpole(algo_name, preset_name, budget, tmp_path):
    summary = run_preset(algo_name, preset_name, tmp_path).summary
    assert summary["num_seeds"] >= 4 and summary["env_steps"] <= budget
    assert summary["mean_return"] >= 475, summary


@pytest.mark.slow
@pytest.mark.parametrize("preset_name,threshold", [("Pendulum-v1", -250), ("MountainCarContinuous-v0", 80)])
def test_a2c_continuous_presets(preset_name, threshold, tmp_path):
    # RL Zoo's configs with gSDE (Pendulum: gamma 0.95), measured here: -130.5 (seeds -111.3,
    # -131.9, -162.2, -116.7) and 90.2 (88.6, 92.1, 92.3, 87.7). On Pendulum the
    # state-independent Gaussian learned nothing in 1M env steps (-977.4, gamma 0.99).
    summary = run_preset("a2c", preset_name, tmp_path).summary
    assert summary["num_seeds"] >= 4
    assert summary["mean_return"] >= threshold, summary


@pytest.mark.slow
def test_recurrent_ppo_solves_cartpole_without_velocities_where_feed_forward_cannot(tmp_path):
    recurrent = run_preset("ppo", "CartPole-v1-recurrent", tmp_path / "gru").summary
    feed_forward = run_preset("ppo", "CartPole-v1-recurrent", tmp_path / "mlp", recurrent=False).summary
    assert recurrent["mean_return"] >= 400, recurrent
    assert feed_forward["mean_return"] <= 250, feed_forward
    assert recurrent["mean_return"] - feed_forward["mean_return"] >= 150
