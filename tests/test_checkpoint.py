"""Checkpoint and resume: bitwise-exact continuation for every registered algorithm, a
process killed while checkpointing, Ctrl-C, `jaxrl train --resume`, and bad input."""

import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import envs
from jaxrl import algos, checkpoint, cli
from jaxrl.train import run
from tiny_configs import make_tiny

ROOT = Path(__file__).resolve().parents[1]
N = 2  # iterations before the interruption; the run has 2N


def _assert_same_state(a, b):
    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    assert tree_a == tree_b
    for x, y in zip(leaves_a, leaves_b):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), "state differs after resuming"


def _returns_column(logdir):
    rows = list(csv.DictReader(open(logdir / "metrics.csv")))
    return [(int(r["iteration"]), r["return_mean"], r["episodes"], r.get("loss", "")) for r in rows]


@pytest.mark.parametrize("name", sorted(algos.ALGORITHMS))
def test_resume_is_bitwise_identical_to_an_uninterrupted_run(name, tmp_path):
    _assert_resume_is_bitwise_identical(*make_tiny(name, iterations=2 * N), tmp_path)


@pytest.mark.parametrize("name,exploration", [
    ("ddpg", dict(exploration="ou", exploration_noise=0.5)),  # Ornstein-Uhlenbeck noise
    ("sac", dict(exploration="gsde", sde_sample_freq=3)),  # gSDE's held noise matrices
    ("ppo", dict(exploration="gsde", sde_sample_freq=3)),
    ("a2c", dict(exploration="gsde", sde_sample_freq=3, scale_rewards=True)),
])
def test_resume_continues_the_exploration_noise_bitwise(name, exploration, tmp_path):
    # The noise process's state lives in the train state, so a resumed run explores as the
    # uninterrupted one does.
    tiny, total_steps = make_tiny(name, iterations=2 * N)
    env, env_params = envs.make("Pendulum-v1")  # continuous actions
    agent = algos.get(name).make(env, env_params, dataclasses.replace(tiny.config, **exploration))
    state = _assert_resume_is_bitwise_identical(agent, total_steps, tmp_path)
    noise = state.hidden if name == "ppo" else state.exploration  # PPO: the rollout's carry
    if name == "a2c":  # and its reward scaling's running statistics
        assert float(np.asarray(state.reward_stats.count).min()) > 0
    noise = noise["eps"] if isinstance(noise, dict) else noise
    assert np.all(np.asarray(noise) != 0)


def _assert_resume_is_bitwise_identical(agent, total_steps, tmp_path):
    """Train `agent` straight through, and again stopped after N iterations and resumed:
    the same final state bit for bit, the same metrics and summary. Returns the state."""
    common = dict(total_steps=total_steps, num_seeds=2, seed=3, eval_episodes=2, num_logs=2 * N,
                  progress=False, checkpoint_every=1, keep_checkpoints=2)
    straight = run(agent, logdir=tmp_path / "straight", **common)

    stopped = run(agent, logdir=tmp_path / "resumed", stop_after=N, **common)
    assert not stopped.completed and stopped.iteration == N
    assert checkpoint.latest(tmp_path / "resumed") == N
    assert not (tmp_path / "resumed" / "summary.json").exists()
    resumed = run(agent, logdir=tmp_path / "resumed", resume=True, **common)

    assert resumed.completed and resumed.summary["resumed_from"] == N
    _assert_same_state(straight.state, resumed.state)
    for key in ("mean_return", "per_seed_return", "final_train_return"):
        assert straight.summary[key] == resumed.summary[key] or (
            key == "final_train_return" and np.isnan(straight.summary[key]) and np.isnan(resumed.summary[key]))
    # The resumed metrics.csv holds each iteration once, with the same values.
    assert _returns_column(tmp_path / "straight") == _returns_column(tmp_path / "resumed")
    # The last K=2 checkpoints are kept.
    assert checkpoint.Checkpointer(tmp_path / "resumed").steps() == [2 * N - 1, 2 * N]
    return resumed.state


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from jaxrl.train import enable_compilation_cache, run
    enable_compilation_cache({cache!r})
    from orbax.checkpoint._src.path import atomicity
    original = atomicity.AtomicRenameTemporaryPath.finalize

    async def slow_finalize(self, *args, **kwargs):
        # Checkpoint {kill_at} is written but not yet renamed into place: say so and hang.
        if self.get_final().name == "{kill_at}":
            print("CHECKPOINTING {kill_at}", flush=True)
            time.sleep(120)
        return await original(self, *args, **kwargs)

    atomicity.AtomicRenameTemporaryPath.finalize = slow_finalize
    from tiny_configs import make_tiny
    agent, total = make_tiny("ppo", iterations=6)
    run(agent, logdir={logdir!r}, total_steps=total, num_seeds=2, seed=3, eval_episodes=2,
        num_logs=6, progress=False, checkpoint_every=1, keep_checkpoints=3)
""")


def test_sigkill_while_checkpointing_resumes_from_last_complete_checkpoint(tmp_path):
    logdir = tmp_path / "run"
    script = tmp_path / "child.py"
    cache = jax.config.jax_compilation_cache_dir
    script.write_text(CHILD.format(tests=str(ROOT / "tests"), cache=cache, logdir=str(logdir), kill_at=4))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    try:
        deadline = time.time() + 240
        line = ""
        while time.time() < deadline:
            line = child.stdout.readline()
            if "CHECKPOINTING 4" in line or child.poll() is not None:
                break
        assert "CHECKPOINTING 4" in line, child.stderr.read()[-3000:]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    directory = logdir / "checkpoints"
    names = sorted(p.name for p in directory.iterdir())
    assert [n for n in names if n.isdigit()] == ["1", "2", "3"]
    assert any("tmp" in n for n in names), names  # the half-written checkpoint 4
    assert checkpoint.latest(logdir) == 3

    agent, total = make_tiny("ppo", iterations=6)
    common = dict(total_steps=total, num_seeds=2, seed=3, eval_episodes=2, num_logs=6,
                  progress=False, checkpoint_every=1, keep_checkpoints=3)
    resumed = run(agent, logdir=logdir, resume=True, **common)
    assert resumed.summary["resumed_from"] == 3
    assert not any("tmp" in p.name for p in directory.iterdir())  # partial write removed
    straight = run(agent, logdir=tmp_path / "straight", **common)
    _assert_same_state(straight.state, resumed.state)
    assert _returns_column(logdir) == _returns_column(tmp_path / "straight")


def test_ctrl_c_checkpoints_and_exits_cleanly(tmp_path):
    """SIGINT to `jaxrl train`: it finishes the chunk, checkpoints, prints how to resume and
    exits with status 130; the checkpoint matches the last logged iteration."""
    logdir = tmp_path / "run"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAXRL_CACHE_DIR": jax.config.jax_compilation_cache_dir}
    child = subprocess.Popen(
        [sys.executable, "-m", "jaxrl.cli", "train", "ppo", "--env", "CartPole-v1", "--preset", "none",
         "--total-steps", str(32 * 100_000), "--set", "num_envs=4", "--set", "num_steps=8",
         "--set", "num_minibatches=2", "--set", "update_epochs=1", "--set", "hidden_sizes=16",
         "--logdir", str(logdir), "--no-progress", "--checkpoint-every", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and child.poll() is None:
            metrics = logdir / "metrics.csv"
            if metrics.exists() and len(metrics.read_text().splitlines()) > 1:
                break
            time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert f"jaxrl train --resume {logdir}" in out
    last = int(list(csv.DictReader(open(logdir / "metrics.csv")))[-1]["iteration"])
    assert checkpoint.latest(logdir) == last
    assert not (logdir / "summary.json").exists()


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A PPO run (written as the CLI would) stopped after N of 2N iterations."""
    logdir = tmp_path_factory.mktemp("stopped") / "run"
    agent, total = make_tiny("ppo", iterations=2 * N)
    run(agent, logdir=logdir, total_steps=total, num_seeds=2, eval_episodes=2, num_logs=2 * N,
        progress=False, stop_after=N, metadata={"env_kwargs": {}, "preset": None})
    return logdir, agent, total


def _copy(src, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def test_cli_resume_finishes_the_run(stopped_run, tmp_path, capsys):
    logdir = _copy(stopped_run[0], tmp_path)
    assert cli.main(["train", "--resume", str(logdir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"from iteration {N}" in out
    summary = json.loads((logdir / "summary.json").read_text())
    assert summary["resumed_from"] == N and summary["env_steps"] == stopped_run[2]
    rows = list(csv.DictReader(open(logdir / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 2 * N + 1))


def _cli_error(capsys, *argv):
    assert cli.main(list(argv)) == 2
    return capsys.readouterr().err


def test_resume_bad_input(stopped_run, tmp_path, capsys):
    logdir, agent, total = stopped_run
    # Missing directory, a directory that is not a run, a run with no checkpoint.
    assert "does not exist" in _cli_error(capsys, "train", "--resume", str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    assert "no config.json" in _cli_error(capsys, "train", "--resume", str(tmp_path / "empty"))
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(logdir / "config.json", bare / "config.json")
    assert "no complete checkpoint" in _cli_error(capsys, "train", "--resume", str(bare))
    # Flags that would change the run.
    message = _cli_error(capsys, "train", "--resume", str(logdir), "--set", "learning_rate=1")
    assert "--set" in message and "config.json" in message
    message = _cli_error(capsys, "train", "dqn", "--resume", str(logdir))
    assert "ppo" in message and "dqn" in message
    # A new run into a directory holding checkpoints.
    with pytest.raises(checkpoint.CheckpointError, match="--resume"):
        run(agent, logdir=logdir, total_steps=total, num_seeds=2, progress=False)


def test_resume_with_another_algorithm_env_or_config_is_refused(stopped_run):
    logdir, agent, total = stopped_run
    dqn, dqn_total = make_tiny("dqn", iterations=2 * N)
    with pytest.raises(checkpoint.CheckpointError, match="'ppo' on 'CartPole-v1'.*'dqn'"):
        run(dqn, logdir=logdir, total_steps=dqn_total, num_seeds=2, progress=False, resume=True)
    import envs
    from jaxrl.algos import ppo

    acrobot, params = envs.make("Acrobot-v1")
    other_env = ppo.make(acrobot, params, agent.config)
    with pytest.raises(checkpoint.CheckpointError, match="Acrobot-v1"):
        run(other_env, logdir=logdir, total_steps=total, num_seeds=2, progress=False, resume=True)
    with pytest.raises(checkpoint.CheckpointError, match="num_seeds=2 in the checkpoint vs 3"):
        run(agent, logdir=logdir, total_steps=total, num_seeds=3, progress=False, resume=True)


def test_corrupt_checkpoint_is_reported(stopped_run, tmp_path):
    _, agent, total = stopped_run
    kwargs = dict(total_steps=total, num_seeds=2, eval_episodes=2, num_logs=2 * N, progress=False,
                  resume=True, metadata={"env_kwargs": {}, "preset": None})
    # Damaged array bytes: the checksum (or orbax) catches them.
    logdir = _copy(stopped_run[0], tmp_path / "bytes")
    step_dir = logdir / "checkpoints" / str(N)
    data = [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.stat().st_size > 64
            and "metadata" not in p.name]
    assert data
    for path in data:
        raw = bytearray(path.read_bytes())
        for i in range(len(raw) // 2, len(raw)):
            raw[i] ^= 0xFF
        path.write_bytes(bytes(raw))
    with pytest.raises(checkpoint.CheckpointError, match="corrupt"):
        run(agent, logdir=logdir, **kwargs)
    # Unreadable metadata.
    logdir = _copy(stopped_run[0], tmp_path / "meta")
    (logdir / "checkpoints" / str(N) / "meta" / "metadata").write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match="corrupt"):
        run(agent, logdir=logdir, **kwargs)


def test_config_fields_added_after_a_checkpoint_do_not_block_its_resume():
    written = {"algo": "td3", "env": "Pendulum-v1", "config": {"gamma": 0.99, "tau": 0.005},
               "num_seeds": 2, "seed": 0, "total_steps": 1000}
    # This version's config has a field the checkpoint's writer did not know (at its default).
    now = {**written, "config": {"gamma": 0.99, "tau": 0.005, "layer_norm": False}}
    checkpoint.check_identity(written, now, "ckpt/10")
    # A field both know still has to match.
    changed = {**written, "config": {"gamma": 0.9, "tau": 0.005, "layer_norm": False}}
    with pytest.raises(checkpoint.CheckpointError, match="gamma=0.99 in the checkpoint vs 0.9"):
        checkpoint.check_identity(written, changed, "ckpt/10")
