"""`jaxrl evaluate RUN_DIR`: statistics over episodes and seeds from the newest checkpoint,
deterministic by default, and `--render` GIFs."""

import json

import jax
import numpy as np
import pytest
from PIL import Image

import envs
from jaxrl import cli, render
from jaxrl.train import run
from tiny_configs import make_tiny


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("evaluate") / "run"
    agent, total = make_tiny("ppo", iterations=4)
    result = run(agent, logdir=logdir, total_steps=total, num_seeds=2, eval_episodes=2,
                 num_logs=4, progress=False, metadata={"env_kwargs": {}})
    return logdir, result


def test_evaluate_reports_statistics_over_seeds_and_renders_a_gif(trained, tmp_path, capsys):
    logdir, result = trained
    gif = tmp_path / "episode.gif"
    assert cli.main(["evaluate", str(logdir), "--episodes", "3", "--render", str(gif)]) == 0
    out = capsys.readouterr().out
    report = json.loads((logdir / "evaluation.json").read_text())
    assert report["num_seeds"] == 2 and report["episodes_per_seed"] == 3 and report["deterministic"]
    assert report["iteration"] == 4 and len(report["per_seed_return"]) == 2
    assert report["seeds"]["iqm_ci_low"] <= report["seeds"]["iqm"] <= report["seeds"]["iqm_ci_high"]
    assert report["min_return"] <= report["mean_return"] <= report["max_return"]
    assert "IQM" in out and str(gif) in out
    # The GIF: one frame per step of the episode, at the renderer's size.
    with Image.open(gif) as image:
        assert image.size == render.GIF_SIZE
        assert image.n_frames == report["render"]["frames"] == report["render"]["length"]
        assert image.n_frames > 5
    # Deterministic by default: the same numbers again.
    assert cli.main(["evaluate", str(logdir), "--episodes", "3"]) == 0
    again = json.loads((logdir / "evaluation.json").read_text())
    assert again["per_seed_return"] == report["per_seed_return"]


def test_restore_gives_the_agent_and_the_trained_state(trained):
    import jaxrl

    logdir, result = trained
    agent, run_config, state, iteration = jaxrl.restore(logdir)
    assert agent.algo == "ppo" and run_config["num_seeds"] == 2 and iteration == 4
    for restored, trained_leaf in zip(jax.tree.leaves(state), jax.tree.leaves(result.state)):
        np.testing.assert_array_equal(restored, trained_leaf)
    policy_params = agent.policy_params(jax.tree.map(lambda x: x[1], state))
    obs = jax.numpy.zeros(agent.env.observation_space(agent.env_params).shape)
    action = agent.act(policy_params, obs, jax.random.PRNGKey(0), deterministic=True)
    assert int(action) in (0, 1)


def test_evaluate_bad_input(tmp_path, trained, capsys):
    assert cli.main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["evaluate", str(trained[0]), "--episodes", "0"]) == 2
    assert "--episodes=0" in capsys.readouterr().err
    assert cli.main(["evaluate", str(trained[0]), "--render", str(tmp_path / "x.mp4")]) == 2
    assert ".gif" in capsys.readouterr().err


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0",
                                    "Breakout-MinAtar"])
def test_renderers_draw_frames(env_id):
    """Each supported gymnax env draws distinct frames from its states (random actions)."""
    env, params = envs.make(env_id)
    agent = type("A", (), {"env": env})()
    key = jax.random.PRNGKey(0)
    obs, state = env.reset(key, params)
    states, observations = [state], [obs]
    for t in range(3):
        action = env.action_space(params).sample(jax.random.fold_in(key, t))
        obs, state, *_ = env.step(jax.random.fold_in(key, 100 + t), state, action, params)
        states.append(state)
        observations.append(obs)
    stacked = jax.tree.map(lambda *x: np.stack(x), *states)
    images = render.frames(agent, stacked, np.stack(observations))
    assert len(images) == 4
    assert len({image.tobytes() for image in images}) > 1
