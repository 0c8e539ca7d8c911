"""Logging: metrics.csv with a finished-episode count per iteration (no fake zero returns),
TensorBoard event files read back, Weights & Biases only when asked, comparison plots."""

import csv
import json
import struct
import sys

import numpy as np
import pytest

from jaxrl import cli, logs, plots
from jaxrl.train import run


def read_events(directory):
    """Every scalar in the TensorBoard event files under `directory`, parsed from the
    TFRecord framing (length, crc, Event proto, crc): {tag: [(step, value), ...]}."""
    from tensorboardX.proto import event_pb2

    scalars = {}
    files = sorted(directory.glob("events.out.tfevents.*"))
    assert files, f"no event files in {directory}"
    for path in files:
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            record = data[offset + 12:offset + 12 + length]
            offset += 12 + length + 4
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """A run whose iterations are short enough that some finish no episode."""
    import envs
    from jaxrl import config as cfg
    from jaxrl.algos import ppo

    env, env_params = envs.make("CartPole-v1")
    config = cfg.apply_overrides(ppo.PPOConfig(), dict(num_envs=1, num_steps=8, num_minibatches=1,
                                                       update_epochs=1, hidden_sizes=(16,),
                                                       total_steps=8 * 24))
    agent = ppo.make(env, env_params, config)
    logdir = tmp_path_factory.mktemp("logged") / "run"
    run(agent, logdir=logdir, num_seeds=2, eval_episodes=2, num_logs=6, progress=False, tensorboard=True)
    return logdir


def test_metrics_count_episodes_and_leave_returns_blank_without_any(logged_run):
    rows = list(csv.DictReader(open(logged_run / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 25))
    assert any(r["episodes"] == "0" for r in rows) and any(r["episodes"] != "0" for r in rows)
    for row in rows:
        assert (row["return_mean"] == "") == (row["episodes"] == "0")
    seeds = list(csv.DictReader(open(logged_run / "seed_returns.csv")))
    assert len(seeds) == 24 and {"seed0", "seed1"} <= set(seeds[0])


def test_tensorboard_event_files_read_back(logged_run):
    rows = list(csv.DictReader(open(logged_run / "metrics.csv")))
    scalars = read_events(logged_run / "tensorboard")
    # Every iteration logs its episode count and losses at its env step ...
    assert [step for step, _ in scalars["episodes"]] == [int(r["env_steps"]) for r in rows]
    assert [v for _, v in scalars["episodes"]] == [float(r["episodes"]) for r in rows]
    assert len(scalars["value_loss"]) == len(rows)
    # ... and a return only where an episode finished.
    with_returns = [(int(r["env_steps"]), float(r["return_mean"])) for r in rows if r["return_mean"]]
    assert [s for s, _ in scalars["return_mean"]] == [s for s, _ in with_returns]
    np.testing.assert_allclose([v for _, v in scalars["return_mean"]], [v for _, v in with_returns], rtol=1e-5)


def test_wandb_only_imported_when_asked_and_missing_package_is_clear(logged_run, capsys, monkeypatch):
    assert "wandb" not in sys.modules  # a run (with TensorBoard) never imported it
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    assert cli.main(["train", "ppo", "--wandb", "--total-steps", "512", "--no-progress"]) == 2
    assert "pip install 'jaxrl[wandb]'" in capsys.readouterr().err
    with pytest.raises(ImportError, match="jaxrl\\[wandb\\]"):
        logs.WandbWriter(logged_run, {})


def test_resume_truncates_rows_after_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.csv"
    writer = logs.MetricsWriter(path)
    writer.write([{"iteration": i, "x": i * 1.5} for i in range(1, 7)])
    writer.close()
    with open(path, "a") as handle:
        handle.write("7,1")  # a row cut short by a crash
    assert logs.truncate_csv(path, 4) == 4
    writer = logs.MetricsWriter(path, append=True)
    writer.write([{"iteration": 5, "x": 0.5}])
    writer.close()
    assert logs.read_metrics(path)["iteration"].tolist() == [1, 2, 3, 4, 5]


def _fake_run(path, algo, curves, final):
    path.mkdir(parents=True)
    writer = logs.MetricsWriter(path / "seed_returns.csv")
    writer.write([{"iteration": i + 1, "env_steps": 100 * (i + 1),
                   **{f"seed{s}": curves[s][i] for s in range(len(curves))}} for i in range(len(curves[0]))])
    writer.close()
    (path / "config.json").write_text(json.dumps({"algo": algo}))
    (path / "summary.json").write_text(json.dumps({"per_seed_return": final}))
    return path


def test_plot_compares_runs_with_intervals_and_steps_to_threshold(tmp_path, capsys):
    nan = float("nan")
    fast = _fake_run(tmp_path / "fast", "ppo", [[10, nan, 50, 90], [20, 60, nan, 100]], [95.0, 100.0])
    slow = _fake_run(tmp_path / "slow", "dqn", [[5, 10, 20, 40], [5, 15, 25, 85]], [40.0, 85.0])
    out = tmp_path / "compare.png"
    assert cli.main(["plot", str(fast), str(slow), "--out", str(out), "--threshold", "80"]) == 0
    assert out.stat().st_size > 10_000
    numbers = plots.compare([fast, slow], tmp_path / "again.png", threshold=80)
    # Seed curves are carried forward over iterations without a finished episode.
    assert numbers["runs"][0]["steps_to_threshold"] == [400.0, 400.0]
    assert numbers["runs"][1]["steps_to_threshold"][0] != numbers["runs"][1]["steps_to_threshold"][0]  # never
    assert numbers["runs"][1]["steps_to_threshold"][1] == 400.0
    assert numbers["runs"][0]["final"]["mean"] == 97.5
    mean, low, high = plots.mean_and_interval(np.array([[1.0, 2.0], [3.0, 6.0]]))
    assert mean.tolist() == [2.0, 4.0] and (low < mean).all() and (high > mean).all()
    assert "reached 80 in 2/2 seeds" in capsys.readouterr().out
    assert cli.main(["plot", str(tmp_path / "nothing")]) == 2
