"""Sweeps: one compiled program for every (combination x seed), results equal to the same
configurations run one at a time, the results table (IQM, bootstrap intervals), the CLI."""

import csv
import json
import logging

import jax
import numpy as np
import pytest
from scipy import stats as st

import envs
from jaxrl import cli, stats
from jaxrl import sweep as sw
from jaxrl.algos import ppo
from jaxrl.train import run
from tiny_configs import make_tiny

GRID = {"learning_rate": [1e-3, 3e-4], "ent_coef": [0.0, 0.01]}
SEEDS = 4
CLI_SETTINGS = ["--preset", "none", "--total-steps", "128", "--set", "num_envs=4", "--set", "num_steps=8",
                "--set", "num_minibatches=2", "--set", "update_epochs=1", "--set", "hidden_sizes=16"]


class _CompileLog(logging.Handler):
    """Collects JAX's compile log lines (enabled by jax.log_compiles)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def count(self, name):
        return sum(line.startswith(f"Compiling jit({name})") for line in self.lines)


@pytest.fixture
def compile_log():
    handler = _CompileLog()
    logger = logging.getLogger("jax")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_sweep_compiles_once_and_equals_runs_one_at_a_time(compile_log):
    agent, total = make_tiny("ppo", iterations=4)
    result = sw.sweep(agent, GRID, num_seeds=SEEDS, seed=0, total_steps=total, eval_episodes=2)
    # 2 learning rates x 2 entropy coefficients x 4 seeds: one program, compiled once.
    assert compile_log.count("sweep_program") == 1
    assert result.compiles == 1 and result.returns.shape == (4, SEEDS)
    assert [tuple(c.values()) for c in result.combos] == [(1e-3, 0.0), (1e-3, 0.01), (3e-4, 0.0), (3e-4, 0.01)]

    for c, combo in enumerate(result.combos):
        single = run(agent, total_steps=total, num_seeds=SEEDS, seed=0, eval_episodes=2,
                     hparams=combo, progress=False)
        # The same evaluation returns per seed, hence the same table row.
        assert result.returns[c].tolist() == pytest.approx(single.summary["per_seed_return"], abs=0)
        assert result.table[c]["mean"] == pytest.approx(np.mean(single.summary["per_seed_return"]), abs=1e-9)
        # The same final parameters (one big vmapped program vs chunked scans reassociate a
        # few float sums: equal to float32 rounding).
        swept = jax.tree.map(lambda x: x[c * SEEDS:(c + 1) * SEEDS], result.state.params)
        for a, b in zip(jax.tree.leaves(swept), jax.tree.leaves(single.state.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        assert np.array_equal(np.asarray(result.state.hparams["learning_rate"][c * SEEDS]),
                              np.float32(combo["learning_rate"]))
    best = max(result.table, key=lambda r: r["iqm"])
    assert result.best["iqm"] == best["iqm"]


def test_sweep_cli_writes_table_plot_and_names_the_best(tmp_path, capsys):
    logdir = tmp_path / "sweep"
    status = cli.main(["sweep", "ppo", "--env", "CartPole-v1", "--seeds", str(SEEDS), "--grid",
                       "lr=1e-3,3e-4", "ent_coef=0,0.01", "--eval-episodes", "2", "--logdir", str(logdir),
                       *CLI_SETTINGS])
    assert status == 0
    out = capsys.readouterr().out
    results = json.loads((logdir / "results.json").read_text())
    rows = list(csv.DictReader(open(logdir / "results.csv")))
    assert len(rows) == 4 and {"learning_rate", "ent_coef", "mean", "std", "iqm", "iqm_ci_low",
                                "iqm_ci_high", "mean_ci_low", "mean_ci_high"} <= set(rows[0])
    per_seed = np.array(results["per_seed_return"])
    assert per_seed.shape == (4, SEEDS)
    for row, values in zip(results["table"], per_seed):
        assert row["iqm"] == pytest.approx(st.trim_mean(values, 0.25))
        assert row["iqm_ci_low"] <= row["iqm"] <= row["iqm_ci_high"]
    best = max(results["table"], key=lambda r: (r["iqm"], r["mean"]))
    assert results["best"] == best
    assert f"best: learning_rate={best['learning_rate']:g} ent_coef={best['ent_coef']:g}" in out
    assert [r["best"] for r in rows].count("True") == 1
    assert (logdir / "sweep.png").stat().st_size > 5000


@pytest.mark.parametrize("item,expected", [
    ("num_envs=4,8", "static field"),
    ("hidden_sizes=16,32", "static field"),
    ("learning_rte=1e-3", "learning_rate"),
    ("lr=fast", "expected numbers"),
    ("lr", "field=v1,v2"),
])
def test_grid_bad_input(item, expected):
    with pytest.raises(ValueError, match=expected):
        sw.parse_grid([item], ppo.PPOConfig())


def test_sweep_cli_rejects_static_fields_and_invalid_values_before_compiling(capsys, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("compiled before validating input")

    # gymnax decorates functions with jax.jit when first imported (no compiling): import it
    # first, so the check does not depend on which tests ran before in this process.
    envs.make("CartPole-v1")
    monkeypatch.setattr(jax, "jit", forbidden)
    assert cli.main(["sweep", "ppo", "--grid", "num_envs=4,8", *CLI_SETTINGS]) == 2
    err = capsys.readouterr().err
    assert "num_envs" in err and "static" in err and "--set num_envs=VALUE" in err
    assert cli.main(["sweep", "ppo", "--grid", "lr=1e-3,-1", *CLI_SETTINGS]) == 2
    assert "learning_rate" in capsys.readouterr().err


def test_grid_aliases_and_combinations():
    grid = sw.parse_grid(["lr=1e-3,3e-4", "ent_coef=0,0.01", "gamma=0.9"], ppo.PPOConfig())
    assert grid == {"learning_rate": [1e-3, 3e-4], "ent_coef": [0.0, 0.01], "gamma": [0.9]}
    assert len(sw.combinations(grid)) == 4


def test_iqm_and_bootstrap_intervals():
    rng = np.random.default_rng(1)
    for n in (4, 5, 8, 17):
        values = rng.normal(size=n)
        assert stats.iqm(values) == pytest.approx(st.trim_mean(values, 0.25))
    values = np.array([1.0, 2.0, 3.0, 100.0])
    low, high = stats.bootstrap_ci(values, np.mean)
    assert low < values.mean() < high
    assert stats.bootstrap_ci(values, np.mean) == (low, high)  # reproducible
    summary = stats.summarize(values)
    assert summary["iqm"] == 2.5 and summary["mean"] == 26.5
    assert summary["iqm_ci_low"] <= summary["iqm"] <= summary["iqm_ci_high"]


def test_steps_to_threshold_counts_env_steps_to_the_first_evaluation_reaching_it():
    agent, total = make_tiny("ppo", iterations=4)
    per_iteration = agent.steps_per_iteration
    # Every CartPole episode returns >= 1, none 10^9: reached after the first chunk / never.
    easy = sw.steps_to_threshold(agent, {"learning_rate": [1e-3, 3e-4]}, seeds=[0, 1], threshold=1.0,
                                 max_steps=2 * per_iteration, eval_every=per_iteration, eval_episodes=2)
    assert easy.steps_per_evaluation == per_iteration
    assert easy.steps.shape == (2, 2) and (easy.steps == per_iteration).all()
    assert [c["learning_rate"] for c in easy.combos] == [1e-3, 3e-4]
    never = sw.steps_to_threshold(agent, {}, seeds=[3], threshold=1e9, max_steps=2 * per_iteration,
                                  eval_every=per_iteration, eval_episodes=2, until_budget=True)
    assert never.combos == [{}] and (never.steps == -1).all()
    assert never.final.shape == (1, 1) and 1.0 <= never.final[0, 0] <= 500.0
    with pytest.raises(ValueError, match="num_minibatches"):
        sw.steps_to_threshold(agent, {"num_minibatches": [2]}, seeds=[0], threshold=1.0,
                              max_steps=2 * per_iteration)
