"""The driver: chunk planning, the CLI end to end, the run directory, periodic evaluation."""

import csv
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import cli
from jaxrl.train import over_seeds, plan_chunks


@pytest.mark.parametrize("num_seeds", [1, 3])
def test_over_seeds_maps_the_leading_axis_like_vmap(num_seeds):
    """One seed runs unbatched inside the program, but callers see vmap's shapes and values."""

    def fn(params, key):
        noise = jax.random.normal(key, (2,))
        return {"total": params["w"].sum() + noise.sum(), "scaled": params["w"] * noise[0]}, noise

    params = {"w": jnp.arange(num_seeds * 4.0).reshape(num_seeds, 4)}
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    got = jax.jit(over_seeds(fn, num_seeds))(params, keys)
    want = jax.vmap(fn)(params, keys)
    chex.assert_trees_all_equal_shapes(got, want)
    chex.assert_trees_all_close(got, want, rtol=1e-6)


@pytest.mark.parametrize("iterations,target", [(976, 50), (977, 50), (10, 50), (1, 5), (97, 10)])
def test_plan_chunks_covers_every_iteration(iterations, target):
    chunk, num_chunks, remainder = plan_chunks(iterations, target)
    assert chunk * num_chunks + remainder == iterations
    assert 0 <= remainder < chunk


def test_plan_chunks_prefers_a_divisor():
    assert plan_chunks(976, 50) == (16, 61, 0)  # one compiled program


def test_cli_train_writes_the_run_directory(tmp_path, capsys):
    logdir = tmp_path / "run"
    status = cli.main(["train", "ppo", "--env", "CartPole-v1", "--total-steps", "5120", "--num-seeds", "2",
                       "--logdir", str(logdir), "--no-progress", "--eval-every", "3",
                       "--eval-episodes", "3", "--set", "num_steps=64", "--set", "num_envs=8"])
    assert status == 0
    out = capsys.readouterr().out
    assert "deterministic evaluation return" in out and str(logdir) in out
    summary = json.loads((logdir / "summary.json").read_text())
    assert summary["num_seeds"] == 2 and summary["env_steps"] == 5120 and summary["eval_episodes"] == 3
    assert len(summary["per_seed_return"]) == 2
    assert [e["iteration"] for e in summary["evaluations"]] == [3, 6, 9]
    config = json.loads((logdir / "config.json").read_text())
    assert config["config"]["num_steps"] == 64 and config["config"]["total_steps"] == 5120
    assert config["preset"] == "CartPole-v1" and config["total_steps"] == 5120
    assert config["command"].startswith("jaxrl train ppo --env CartPole-v1 --total-steps 5120")
    rows = list(csv.DictReader(open(logdir / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 11))
    assert [r["eval_return"] != "" for r in rows].count(True) == 3
    # Iterations where no episode finished log no return (not 0).
    for row in rows:
        assert (row["return_mean"] == "") == (row["episodes"] == "0")
    assert (logdir / "curve.png").exists()


@pytest.mark.parametrize("seed,num_seeds", [(0, 4), (3_000_000_000, 2)])
def test_run_keys_are_the_eager_keys(seed, num_seeds):
    """`run` makes its keys in one compiled program; they are the keys made op by op
    (a seed beyond int32 included), so runs keep their random streams."""
    from jaxrl.train import run_keys

    seed_keys, eval_root = run_keys(seed, num_seeds)
    root = jax.random.PRNGKey(seed)
    np.testing.assert_array_equal(seed_keys, jax.random.split(root, num_seeds))
    np.testing.assert_array_equal(eval_root, jax.random.fold_in(root, 1))
