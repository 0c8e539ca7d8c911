"""Every preset builds: its overrides name real config fields with valid values, its env
and env options exist, and `algo.make` accepts the combination (all checked before any
compilation, so this is cheap)."""

import pytest

from jaxrl import presets


@pytest.mark.parametrize("key", sorted(presets.PRESETS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_preset_builds_an_agent(key):
    preset = presets.PRESETS[key]
    agent = preset.agent()
    assert agent is not None
    assert preset.num_seeds >= 1 and preset.total_steps > 0


def test_env_named_presets_are_found_by_env():
    # `jaxrl train ALGO --env ENV` picks the preset named after ENV.
    assert presets.for_env("dqn", "Breakout-MinAtar").env == "Breakout-MinAtar"
    assert presets.for_env("pqn", "MountainCar-v0").env == "MountainCar-v0"
    assert presets.for_env("ppo", "brax/ant").env_kwargs == {"backend": "spring"}


def _fake_run(tmp_path, preset, evaluations, final_return, config_changes=None):
    """A finished run directory as `jaxrl train` writes it: 10 iterations of 100 env steps,
    wall seconds 10 per iteration, evaluations at the given (iteration, mean return)."""
    import dataclasses
    import json

    config = dataclasses.asdict(preset.config())
    config.update(config_changes or {})
    (tmp_path / "config.json").write_text(json.dumps(
        {"algo": preset.algo, "env": preset.env, "config": config, "num_seeds": preset.num_seeds,
         "env_kwargs": preset.env_kwargs}))
    rows = ["iteration,env_steps,wall_seconds,return_mean,eval_return"]
    evals = dict(evaluations)
    rows += [f"{i},{100 * i},{10.0 * i},1.0,{evals.get(i, 'nan')}" for i in range(1, 11)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "summary.json").write_text(json.dumps(
        {"completed": True, "num_seeds": preset.num_seeds, "env_steps": 1000,
         "mean_return": final_return, "std_return": 0.0, "min_return": final_return,
         "max_return": final_return, "per_seed_return": [final_return] * preset.num_seeds,
         "wall_seconds": 105.0, "compile_seconds": 5.0, "steps_per_second": 20.0,
         "evaluations": [{"iteration": i, "mean_return": r} for i, r in evaluations]}))
    return tmp_path


def test_a_run_records_when_it_first_reached_the_published_return(tmp_path):
    from jaxrl import benchmark, preset_report

    preset = presets.get("ppo", "Breakout-MinAtar-10M")
    assert preset.target_return == 28.0
    run_dir = _fake_run(tmp_path, preset, [(3, 12.0), (6, 29.5), (9, 27.0)], 31.0)
    preset_report.check_run_matches(run_dir, preset)
    row = preset_report.row_from_run(run_dir, preset)
    # The first evaluation at or above 28 (iteration 6), not the best one (the final 31).
    assert row["target_reached"] == {"env_steps": 600, "wall_seconds": 60.0}
    assert row["best_evaluation"] == {"env_steps": 1000, "wall_seconds": 105.0, "mean_return": 31.0}
    assert row["evaluations"] == 4 and row["mean_return"] == 31.0
    assert "first reached at 600 env steps, 60 s" in benchmark._target_line(row)

    never = preset_report.row_from_run(_fake_run(tmp_path, preset, [(5, 20.0)], 25.0), preset)
    assert never["target_reached"] is None
    assert "not reached; best evaluation 25.0 at 1,000 env steps" in benchmark._target_line(never)


def test_a_run_of_another_config_is_not_recorded_as_the_preset(tmp_path):
    from jaxrl import preset_report

    preset = presets.get("ppo", "Breakout-MinAtar-10M")
    run_dir = _fake_run(tmp_path, preset, [], 10.0, {"total_steps": 1_000_000})
    with pytest.raises(ValueError, match="total_steps: run 1000000, preset 10000000"):
        preset_report.check_run_matches(run_dir, preset)
