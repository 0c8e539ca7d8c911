"""The benchmark script's input checks, FLOP counts and report formatting (no timing is
asserted: speed lives in docs/benchmarks.md)."""

import pytest

from jaxrl import benchmark


def test_unknown_peer_is_rejected_before_any_work(capsys):
    assert benchmark.main(["--peers", "sbx", "--out", "/nonexistent/benchmarks.md"]) == 2
    assert "--peers sbx" in capsys.readouterr().err


def test_mlp_macs_and_update_flops():
    assert benchmark.mlp_macs((4, 64, 64, 2)) == 4 * 64 + 64 * 64 + 64 * 2
    flops = benchmark.update_flops()
    forward = benchmark.mlp_macs((4, 64, 64, 2)) + benchmark.mlp_macs((4, 64, 64, 1))
    assert flops["ppo_reference"] == 2 * forward * 13  # rollout forward + 4 epochs x 3 forwards
    assert flops["dqn_preset"] > 0


def _run(library, algo, env, threshold, seconds, steps):
    reached = {"env_steps": steps, "seconds": seconds, "return": threshold} if seconds else None
    return {"library": library, "algo": algo, "preset": env, "env": env, "threshold": threshold,
            "reached": reached}


def test_threshold_report_gives_medians_and_ratios_per_env():
    thresholds = {
        "seeds": [0, 1, 2],
        "ours": [_run("jaxrl", "dqn", "CartPole-v1", 475.0, s, 50_000) for s in (2.0, 3.0, None)]
        + [_run("jaxrl", "sac", "Pendulum-v1", -200.0, s, 8_000) for s in (6.0, 7.0, 8.0)]
        + [{**_run("jaxrl", "dqn", "CartPole-v1", 475.0, 15.0, 90_000), "preset": "CartPole-v1-rainbow"}],
        "sb3": [_run("sb3", "dqn", "CartPole-v1", 475.0, s, 40_000) for s in (30.0, 25.0, 40.0)]
        + [_run("sb3", "sac", "Pendulum-v1", -200.0, s, 4_000) for s in (35.0, 70.0, 40.0)],
    }
    text = "\n".join(benchmark._threshold_markdown(thresholds))
    assert "### CartPole-v1 to 475" in text and "### Pendulum-v1 to -200" in text
    assert "| 2.5 s | 50,000 | 2/3 |" in text  # median over the seeds that reached it
    assert "`CartPole-v1-rainbow` **2.0x** sooner" in text  # each preset gets its own ratio
    assert "DQN preset `CartPole-v1` **12.0x** sooner" in text  # 30 / 2.5
    assert "SAC preset `Pendulum-v1` **5.7x** sooner" in text  # 40 / 7


def test_use_cpu_devices_before_jax_starts_splits_the_cpu():
    import subprocess
    import sys

    code = ("from jaxrl.compilation import use_cpu_devices; use_cpu_devices(2); import jax, os; "
            "print(jax.device_count(), jax.default_backend(), '--xla_cpu_multi_thread_eigen=false' in os.environ['XLA_FLAGS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "JAX_PLATFORMS": "cpu"})
    assert out.stdout.split() == ["2", "cpu", "True"]


def test_use_cpu_devices_after_jax_started_names_the_fix():
    import jax
    import pytest

    from jaxrl.compilation import use_cpu_devices

    jax.numpy.zeros(1).block_until_ready()  # JAX has started
    with pytest.raises(RuntimeError, match="XLA_FLAGS='--xla_force_host_platform_device_count=7"):
        use_cpu_devices(7)
    with pytest.raises(ValueError, match="positive integer"):
        use_cpu_devices(0)


@pytest.mark.parametrize("algo,preset", [("dqn", "CartPole-v1"), ("ppo", "CartPole-v1"), ("sac", "Pendulum-v1")])
def test_init_compiled_with_same_numerics_is_bit_identical(algo, preset):
    """`jaxrl train` compiles `agent.init` with `jit_light(same_numerics=True)`: what it
    trains must not depend on that (the -O0 set changes init floats by ~1e-6)."""
    import jax
    import numpy as np

    from jaxrl.compilation import jit_light

    agent, _ = benchmark._preset_agent(algo, preset)
    key = jax.random.PRNGKey(3)
    default = jax.jit(agent.init)(key)
    light = jit_light(agent.init, same_numerics=True)(key)
    for a, b in zip(jax.tree.leaves(default), jax.tree.leaves(light)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_scaling_report_has_one_row_per_env():
    rows = [{"env": e, "num_envs": n, "steps_per_second": 1000.0 * n} for e in ("A", "B") for n in (1, 4)]
    rows.append({"env": "C", "num_envs": 1, "steps_per_second": 5.0})
    text = "\n".join(benchmark._scaling_markdown(rows))
    assert "| env | 1 | 4 |" in text
    assert "| A | 1,000 | 4,000 |" in text and "| C | 5 | - |" in text


def test_results_section_is_rendered_from_the_preset_results(tmp_path, monkeypatch):
    # `--only results` times nothing: it re-renders docs/benchmarks.md with the learning
    # results that scripts/measure_presets.py wrote to presets.json next to it.
    row = {"algo": "pqn", "preset": "Breakout-MinAtar", "env": "Breakout-MinAtar", "num_seeds": 2,
           "env_steps": 3_000_000, "mean_return": 32.15, "std_return": 10.9,
           "per_seed_return": [38.5, 25.8], "wall_seconds": 234.2}
    (tmp_path / "presets.json").write_text(__import__("json").dumps([row]))
    monkeypatch.setattr(benchmark, "run_limits", lambda *a: pytest.fail("timed something"))
    out = tmp_path / "benchmarks.md"
    assert benchmark.main(["--only", "results", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| pqn | Breakout-MinAtar | 2 | 3,000,000 | 32.1 ± 10.9 | 38.5, 25.8 | 234 |" in text
    assert "| sac | brax/hopper | - | - | not measured | - | - |" in text
    assert "Published reference" in text
