"""Bad input is rejected with a clear message before anything compiles."""

import jax
import pytest

from jaxrl import cli
from jaxrl import config as cfg
from jaxrl.algos import ppo


@pytest.fixture(autouse=True)
def no_compilation(monkeypatch):
    """Fail the test if anything is jitted while validating input (after the imports,
    whose decorators legitimately wrap functions with jax.jit)."""
    import gymnax  # noqa: F401

    import envs.gymnax_adapter  # noqa: F401

    def forbidden(*args, **kwargs):
        raise AssertionError("compiled before validating input")

    monkeypatch.setattr(jax, "jit", forbidden)


def _prepare(*argv):
    return cli.prepare_training(cli._train_parser().parse_args(list(argv)))


def _error(*argv) -> str:
    with pytest.raises(cli.CLIError) as info:
        _prepare(*argv)
    return str(info.value)


def test_unknown_env_lists_closest_ids():
    message = _error("ppo", "--env", "CartPole-v0")
    assert "CartPole-v0" in message and "CartPole-v1" in message


def test_unknown_algorithm_lists_known_ones():
    message = _error("ppp")
    assert "ppp" in message and "ppo" in message


def test_set_unknown_field_suggests_the_right_one():
    message = _error("ppo", "--set", "learning_rte=1e-3")
    assert "learning_rte" in message and "learning_rate" in message


@pytest.mark.parametrize("item,field", [
    ("learning_rate=fast", "learning_rate"),
    ("num_envs=2.5", "num_envs"),
    ("anneal_lr=maybe", "anneal_lr"),
    ("hidden_sizes=64,x", "hidden_sizes"),
])
def test_set_value_of_wrong_type(item, field):
    message = _error("ppo", "--set", item)
    assert field in message and "expected" in message


def test_set_without_equals_sign():
    assert "field=value" in _error("ppo", "--set", "learning_rate")


def test_minibatch_count_must_divide_batch():
    message = _error("ppo", "--set", "num_minibatches=3")
    assert "num_minibatches" in message and "512" in message


@pytest.mark.parametrize("item,field", [
    ("learning_rate=0", "learning_rate"),
    ("learning_rate=-3e-4", "learning_rate"),
    ("num_envs=0", "num_envs"),
    ("num_steps=-1", "num_steps"),
    ("total_steps=0", "total_steps"),
    ("gamma=1.5", "gamma"),
    ("ent_coef=-0.01", "ent_coef"),
])
def test_non_positive_or_out_of_range_values(item, field):
    assert field in _error("ppo", "--set", item)


def test_non_positive_step_count_flags():
    assert "--total-steps" in _error("ppo", "--total-steps", "0")
    assert "--num-seeds" in _error("ppo", "--num-seeds", "-2")


def test_unknown_preset_and_mismatched_preset():
    assert "Available" in _error("ppo", "--preset", "cartpole-fast")
    assert "tuned for CartPole-v1" in _error("ppo", "--preset", "CartPole-v1", "--env", "Acrobot-v1")


def test_preset_variant_resolves_to_the_envs_preset():
    *_, metadata = _prepare("dqn", "--env", "Breakout-MinAtar", "--preset", "rainbow")
    assert metadata["preset"] == "Breakout-MinAtar-rainbow"
    *_, metadata = _prepare("dqn", "--preset", "rainbow")  # the default env, CartPole-v1
    assert metadata["preset"] == "CartPole-v1-rainbow"
    message = _error("dqn", "--env", "Acrobot-v1", "--preset", "rainbow")
    assert "No 'rainbow' preset of dqn for Acrobot-v1" in message and "Breakout-MinAtar-rainbow" in message


def test_backend_flag_on_non_brax_env():
    assert "brax" in _error("ppo", "--env", "CartPole-v1", "--backend", "spring")


def test_main_prints_error_and_exits_2(capsys):
    assert cli.main(["train", "ppo", "--env", "NoSuchEnv-v9"]) == 2
    assert "NoSuchEnv-v9" in capsys.readouterr().err
    assert cli.main(["fly"]) == 2


def test_valid_input_builds_agent_from_preset():
    agent, total_steps, num_seeds, metadata = _prepare("ppo", "--set", "learning_rate=1e-3")
    assert agent.config.learning_rate == 1e-3
    assert metadata["preset"] == "CartPole-v1" and total_steps == 500_000 and num_seeds == 4


def test_overrides_parse_types():
    config = cfg.apply_overrides(ppo.PPOConfig(), {"hidden_sizes": "32,16", "anneal_lr": "false",
                                                   "num_envs": "8", "gamma": "0.9"})
    assert config.hidden_sizes == (32, 16) and config.anneal_lr is False
    assert config.num_envs == 8 and config.gamma == 0.9


def test_cpu_devices_shards_the_seeds(tmp_path):
    """`--cpu-devices 2` splits the CPU into two devices (in a fresh process, before JAX
    starts) and lays the seeds over them; `--cpu-threads 2` gives them a thread each."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-m", "jaxrl.cli", "train", "ppo", "--preset", "none", "--num-seeds", "2",
         "--cpu-devices", "2", "--cpu-threads", "2", "--total-steps", "1024", "--set", "num_envs=4", "--set", "num_steps=8",
         "--set", "num_minibatches=2", "--set", "update_epochs=1", "--set", "hidden_sizes=16",
         "--logdir", str(tmp_path / "run"), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "on 2 devices (seeds sharded)" in out.stdout


def test_cpu_devices_needs_a_seed_count_they_divide():
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "jaxrl.cli", "train", "ppo", "--num-seeds", "3", "--cpu-devices", "2",
         "--no-progress"],
        capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert out.returncode == 2
    assert "3 seed(s) do not divide evenly" in out.stderr and "--num-seeds" in out.stderr


def test_cpu_threads_fewer_than_cpu_devices_is_refused():
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "jaxrl.cli", "train", "ppo", "--num-seeds", "2", "--cpu-devices", "2",
         "--cpu-threads", "1", "--no-progress"],
        capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert out.returncode == 2
    assert "--cpu-threads 1 is fewer than --cpu-devices 2" in out.stderr


def test_shard_networks_bad_input_is_refused_before_compiling(tmp_path, capsys):
    """`--shard networks` needs an agent with separate actor and critic networks and two
    devices; either missing is a clear error naming the fix, and nothing is written."""
    import jax

    common = ["--total-steps", "1024", "--num-seeds", "1", "--no-progress", "--shard", "networks"]
    assert cli.main(["train", "dqn", "--logdir", str(tmp_path / "dqn"), *common]) == 2
    assert "splits an actor and a critic that are separate networks" in capsys.readouterr().err
    if jax.device_count() == 1:
        assert cli.main(["train", "ppo", "--logdir", str(tmp_path / "ppo"), *common]) == 2
        err = capsys.readouterr().err
        assert "needs two devices" in err and "--cpu-devices 2" in err
    assert not (tmp_path / "dqn").exists() and not (tmp_path / "ppo").exists()
