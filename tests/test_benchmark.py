"""The benchmark script's input checks, FLOP counts and report formatting (no timing is
asserted: speed lives in docs/benchmarks.md)."""

import json

import pytest

from jaxrl import benchmark


def test_unknown_peer_is_rejected_before_any_work(capsys, monkeypatch):
    monkeypatch.setattr(benchmark, "ensure_peer_venv", lambda *a: pytest.fail("created a venv"))
    assert benchmark.main(["--peers", "sb3,rllib", "--out", "/nonexistent/benchmarks.md"]) == 2
    err = capsys.readouterr().err
    assert "--peers rllib" in err and "sb3, sbx" in err


def test_sbx_is_a_peer_with_its_own_pinned_venv():
    sbx = benchmark.PEERS["sbx"]
    assert sbx.venv != benchmark.PEERS["sb3"].venv and "sbx-rl==0.28.0" in sbx.requirements
    assert all("==" in r for r in sbx.requirements)


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
    # Our presets on one env, ranked (PQN against PPO is one of issue 3's lines).
    assert "Ours, soonest first (median seconds): DQN preset `CartPole-v1` 2.5 s, DQN preset " \
        "`CartPole-v1-rainbow` 15.0 s." in text
    assert text.count("Ours, soonest first") == 1  # one preset on Pendulum-v1: nothing to rank


def _report(tmp_path, results, command: str) -> str:
    """docs/benchmarks.md as `write_markdown` renders `results` (into `tmp_path`)."""
    out = tmp_path / "benchmarks.md"
    benchmark.write_markdown(out, results, command)
    return out.read_text()


def _peer_result(library, versions, **fields):
    return {"library": library, "torch_threads": 2, "versions": versions, **fields}


SB3_VERSIONS = {"torch": "2.13.0+cpu", "stable_baselines3": "2.9.2"}
SBX_VERSIONS = {"sbx": "0.28.0", "jax": "0.10.2", "flax": "0.12.8", **SB3_VERSIONS}
SBX_NOTES = ["no value-function clipping"]
# What every PPO-section report starts from: the machine, the budget and our cold run.
PPO_RESULTS = {
    "machine": {"cpu": "cpu", "cores": 2, "platform": "linux", "python": "3.11", "jax": "0.4", "device": "cpu"},
    "date": "2026-01-01", "total_steps": 20_000,
    "ours_cold": {"cold_seconds": 10.0, "compile_seconds": 3.0, "mean_return": 500.0},
}


def test_markdown_renders_sbx_beside_sb3(tmp_path):
    """sbx gets its own rows, ratios and notes in the PPO and threshold sections; SB3's stay as they were."""
    ppo_run = {"total_steps": 20_000, "learn_seconds": 20.0, "cold_seconds": 25.0, "mean_return": 200.0}
    results = {
        **PPO_RESULTS,
        "seeds": [{"num_seeds": 1, "warm_seconds": 2.0, "steps_per_second": 10_000.0, "mean_return": 500.0,
                   "min_seed_return": 500.0}],
        "sb3": _peer_result("stable-baselines3", SB3_VERSIONS, **ppo_run),
        "sbx": _peer_result("sbx", SBX_VERSIONS, **{**ppo_run, "learn_seconds": 8.0, "cold_seconds": 15.0},
                            notes=SBX_NOTES),
        "thresholds": {
            "seeds": [0],
            "ours": [_run("jaxrl", "dqn", "CartPole-v1", 475.0, 5.0, 50_000)],
            "sb3": [_run("stable-baselines3", "dqn", "CartPole-v1", 475.0, 30.0, 40_000)],
            "sbx": [{**_run("sbx", "dqn", "CartPole-v1", 475.0, 10.0, 40_000), "notes": ["no gradient clipping"]}],
            "identical": {"dqn": {
                "ours": {"env_steps": 50_000, "seconds": 2.0, "steps_per_second": 25_000.0, "compile_seconds": 3.0},
                "sb3": _peer_result("stable-baselines3", SB3_VERSIONS, env_steps=50_000, learn_seconds=50.0,
                                    steps_per_second=1_000.0),
                "sbx": _peer_result("sbx", SBX_VERSIONS, algo="dqn", env_steps=50_000, learn_seconds=10.0,
                                    steps_per_second=5_000.0, notes=["no gradient clipping"]),
            }},
        },
    }
    text = _report(tmp_path, results, "python scripts/benchmark.py --peers sb3,sbx")
    assert "| Stable-Baselines3 2.9.2 (torch 2.13.0+cpu, 2 threads) | 25.0 s | - | 20.0 s | 1,000 | 200.0 |" in text
    assert "| sbx 0.28.0 (jax 0.10.2) | 15.0 s | - | 8.0 s | 2,500 | 200.0 |" in text
    assert "Speed-up, warm: **10.0x**; cold: **2.5x**." in text  # SB3's line as before
    assert "Speed-up over sbx, warm: **4.0x**; cold: **1.5x**." in text
    assert "How sbx's PPO differs from SB3's here: no value-function clipping." in text
    assert "| sbx DQN, RL Zoo hyperparameters | 10.0 s | 40,000 | 1/1 |" in text
    assert "**6.0x** sooner than SB3's; DQN preset `CartPole-v1` **2.0x** sooner than sbx's." in text
    assert "| jaxrl DQN (compiled once, 3.0 s) | 50,000 | 2.0 | 25,000 | **25.0x** vs SB3, **5.0x** vs sbx |" in text
    assert "| sbx 0.28.0 DQN | 50,000 | 10.0 | 5,000 | 1.0x |" in text
    assert "How sbx's DQN differs from SB3's here: no gradient clipping." in text


def test_sb3_api_peers_run_the_ppo_reference_seed_by_seed(tmp_path, monkeypatch):
    """Each SB3-API peer's PPO reference run is one process per seed; the table gives the
    median seed's seconds and the mean return, each seed's after it, and says so."""
    calls = []

    def peer(name, python, script, args):
        total_steps, seed = args
        calls.append((name, script, seed))
        return {**_peer_result("stable-baselines3", SB3_VERSIONS, total_steps=total_steps),
                "learn_seconds": [30.0, 10.0, 20.0][seed], "mean_return": [500.0, 470.0, 500.0][seed]}

    monkeypatch.setattr(benchmark, "_run_peer", peer)
    r = benchmark.time_peer_ppo("sb3", "python", 20_000, seeds=(0, 1, 2))
    assert calls == [("sb3", "sb3_ppo.py", seed) for seed in (0, 1, 2)]
    assert r["learn_seconds"] == 20.0 and r["mean_return"] == 490.0 and r["returns"] == [500.0, 470.0, 500.0]
    results = {
        **PPO_RESULTS,
        "seeds": [{"num_seeds": 1, "warm_seconds": 2.0, "steps_per_second": 10_000.0, "mean_return": 500.0,
                   "min_seed_return": 500.0}],
        "sb3": r,
    }
    text = _report(tmp_path, results, "python scripts/benchmark.py --only ppo --peers sb3")
    assert "each SB3-API peer 3 seeds, one process each: the median seed's seconds" in text
    assert "| 20.0 s | 1,000 | 490.0 (500.0, 470.0, 500.0) |" in text
    assert "Speed-up, warm: **10.0x**;" in text


def test_markdown_headlines_the_one_thread_seed(tmp_path):
    """With a one-thread run the PPO table headlines it, keeps the default-threads seed
    beside it, and the seed-cost lines compare with it."""
    seed = {"num_seeds": 1, "warm_seconds": 4.0, "steps_per_second": 5_000.0, "mean_return": 500.0,
            "min_seed_return": 500.0, "compile_seconds": 2.0, "devices": 1}
    results = {
        **PPO_RESULTS,
        "ours_one_seed": {**seed, "warm_seconds": 2.0, "steps_per_second": 10_000.0},
        "seeds": [seed, {**seed, "num_seeds": 16, "warm_seconds": 40.0}],
        "sb3": _peer_result("stable-baselines3", SB3_VERSIONS, total_steps=20_000, learn_seconds=20.0,
                            cold_seconds=25.0, mean_return=200.0),
    }
    text = _report(tmp_path, results, "python scripts/benchmark.py --only ppo --peers sb3")
    assert "| jaxrl (1 XLA thread) | 10.0 s | 3.0 s | 2.00 s | 10,000 | 500.0 |" in text
    assert "| jaxrl (XLA's default threads, one per core) | - | 2.0 s | 4.00 s | 5,000 | 500.0 |" in text
    assert "Speed-up, warm: **10.0x**; cold: **2.5x** (warm with XLA's default threads: 5.0x)." in text
    assert "trains in 2.00 s; against it, 16 seeds on 1 device(s) cost 20.00x." in text

    # With the split layout timed too, its row and ratios join the table and the speed-up line.
    results["ours_split_seed"] = {**seed, "warm_seconds": 1.6, "steps_per_second": 12_500.0, "devices": 2}
    results["ours_split_cold"] = {"cold_seconds": 12.5, "compile_seconds": 3.5, "mean_return": 500.0}
    text = _report(tmp_path, results, "python scripts/benchmark.py --only ppo --peers sb3")
    assert "| jaxrl (actor and critic on 2 devices, `--shard networks`) | 12.5 s | 3.5 s | 1.60 s | 12,500 | 500.0 |" in text
    assert ("Speed-up, warm: **10.0x**; cold: **2.5x** (warm with XLA's default threads: 5.0x). "
            "Actor and critic on two devices: warm **12.5x**, cold **2.0x**.") in text


def test_partial_rerun_keeps_the_machine_of_the_sections_it_kept(monkeypatch):
    """`--only thresholds` on a new machine labels the thresholds section with it and the PPO
    section, kept from the JSON, with the machine that measured it."""
    old = {"cpu": "Old CPU", "cores": 2, "platform": "linux", "python": "3.11", "jax": "0.4", "device": "cpu"}
    new = {**old, "cpu": "New CPU"}
    monkeypatch.setattr(benchmark, "machine", lambda: new)
    results = {"machine": old, "date": "2026-01-01", "ours_cold": {}, "thresholds": {}}
    benchmark.record_section_machines(results, ["thresholds"])
    machines = results["section_machines"]
    assert machines["ppo"] == {"machine": old, "date": "2026-01-01"}
    assert machines["thresholds"]["machine"] == new
    assert "limits" not in machines and "scaling" not in machines  # never measured
    # A later rerun of the PPO section relabels it, and leaves the thresholds alone.
    benchmark.record_section_machines(results, ["ppo"])
    assert machines["ppo"]["machine"] == new and machines["thresholds"]["machine"] == new


def test_background_compiler_gives_the_programs_jit_gives():
    import jax
    import jax.numpy as jnp

    from jaxrl.compilation import Compiler

    def f(x):
        return jnp.sin(x) @ x.T

    x = jnp.arange(12.0).reshape(3, 4)
    with Compiler() as compiler:
        first = compiler.submit(jax.jit(f), x)
        second = compiler.submit(jax.jit(lambda y: y * 2), jax.ShapeDtypeStruct((5,), jnp.float32))
        fixed_shape = compiler.submit(jax.jit(lambda y: y), x)
        program = first.result()
        assert (program(x) == jax.jit(f)(x)).all()
        assert (second.result()(jnp.ones(5)) == 2.0).all()
    with pytest.raises(TypeError):  # compiled for (3, 4): other shapes are refused, not recompiled
        fixed_shape.result()(jnp.ones(5))


def test_use_cpu_devices_before_jax_starts_splits_the_cpu():
    import subprocess
    import sys

    code = ("from jaxrl.compilation import use_cpu_devices; use_cpu_devices(2); import jax, os; "
            "print(jax.device_count(), jax.default_backend(), '--xla_cpu_multi_thread_eigen=false' in os.environ['XLA_FLAGS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "JAX_PLATFORMS": "cpu"})
    assert out.stdout.split() == ["2", "cpu", "True"]


@pytest.mark.parametrize("setup,count,fix", [
    ("use_cpu_devices", 7, "XLA_FLAGS='--xla_force_host_platform_device_count=7"),
    ("use_cpu_threads", 977, "PJRT_NPROC=977"),
])
def test_cpu_layout_after_jax_started_names_the_fix(setup, count, fix):
    import jax

    from jaxrl import compilation

    jax.numpy.zeros(1).block_until_ready()  # JAX has started
    with pytest.raises(RuntimeError, match=fix):
        getattr(compilation, setup)(count)
    with pytest.raises(ValueError, match="positive integer"):
        getattr(compilation, setup)(0)


def test_use_cpu_threads_before_jax_starts_sizes_xla_thread_pool():
    """One worker thread in XLA's CPU thread pool (its threads are named *XLAEigen)."""
    import os
    import subprocess
    import sys

    code = ("from jaxrl.compilation import use_cpu_threads; use_cpu_threads(1); import jax, os; "
            "jax.numpy.ones(3).block_until_ready(); "
            "names = [open(f'/proc/self/task/{t}/comm').read() for t in os.listdir('/proc/self/task')]; "
            "print(sum('XLAEigen' in n for n in names), os.environ['PJRT_NPROC'])")
    env = {k: v for k, v in os.environ.items() if k != "PJRT_NPROC"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**env, "JAX_PLATFORMS": "cpu"})
    assert out.stdout.split() == ["1", "1"]


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
    assert "| env | devices | 1 | 4 |" in text
    assert "| A | 1 | 1,000 | 4,000 |" in text and "| C | 1 | 5 | - |" in text
    # Rows timed over forced CPU devices get their own line under their env's.
    rows.append({"env": "A", "num_envs": 4, "devices": 2, "steps_per_second": 7000.0})
    text = "\n".join(benchmark._scaling_markdown(rows))
    assert "| A | 1 | 1,000 | 4,000 |\n| A | 2 | - | 7,000 |\n| B | 1 |" in text


def test_scaling_splits_only_the_env_counts_the_devices_divide(monkeypatch):
    """The multi-device sweep runs in a fresh process (forced devices must be set before jax
    starts), over the env counts that split evenly."""
    import subprocess

    monkeypatch.setattr(benchmark, "env_steps_per_second", lambda env_id, kwargs, n, min_seconds: {
        "env": env_id, "num_envs": n, "steps_per_second": 1.0})
    seen = {}

    def fake_run(argv, capture_output, text):
        seen["code"] = argv[-1]
        return subprocess.CompletedProcess(argv, 0, stdout='[{"env": "A", "num_envs": 4, "devices": 2}]\n')

    monkeypatch.setattr(benchmark.subprocess, "run", fake_run)
    rows = benchmark.run_scaling(num_envs=(1, 4, 6), devices=4)
    assert "use_cpu_devices(4)" in seen["code"] and "_scaling_worker([4], 4)" in seen["code"]
    assert len(rows) == 3 * len(benchmark.SCALING_ENVS) + 1 and rows[-1]["devices"] == 2
    seen.clear()  # --quick: one device only
    assert len(benchmark.run_scaling(num_envs=(1, 16), quick=True, devices=4)) == 2 * len(benchmark.SCALING_ENVS)
    assert not seen


def test_env_steps_per_second_times_repeated_calls_at_the_step_cap(monkeypatch):
    # CartPole-v1 steps 4,096 times in a few ms, far below min_seconds: the scan stops at its
    # cap, and the rate comes from the fastest of several more calls, not from one.
    timed = []
    best_seconds = benchmark._best_seconds

    def spy(program, args, repeats, warm_up=True):
        timed.append(repeats)
        return best_seconds(program, args, repeats, warm_up)

    monkeypatch.setattr(benchmark, "_best_seconds", spy)
    row = benchmark.env_steps_per_second("CartPole-v1", {}, 2, min_seconds=0.3)
    assert row["steps_per_env"] == 4096 and len(timed) == 1 and timed[0] >= 2
    assert row["steps_per_second"] == pytest.approx(2 * 4096 / row["seconds"])


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


def test_jax_peers_have_pinned_venvs_and_their_own_scripts():
    rejax, purejaxrl = benchmark.PEERS["rejax"], benchmark.PEERS["purejaxrl"]
    for peer in (rejax, purejaxrl):
        assert peer.jax_program and all("==" in r for r in peer.requirements)
        assert "gymnax==0.0.9" in peer.requirements  # both step gymnax with the 0.0.x API
    assert rejax.zoo_script == "rejax_zoo.py" and {case[0] for case in rejax.threshold_cases} == {"ppo", "dqn", "pqn"}
    assert purejaxrl.zoo_script is None and not purejaxrl.threshold_cases  # PPO section only


def test_purejaxrl_without_a_checkout_is_rejected_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(benchmark, "ensure_peer_venv", lambda *a: pytest.fail("created a venv"))
    out = str(tmp_path / "benchmarks.md")
    assert benchmark.main(["--only", "ppo", "--peers", "purejaxrl", "--out", out]) == 2
    assert "--purejaxrl-src CHECKOUT" in capsys.readouterr().err
    assert benchmark.main(["--only", "ppo", "--peers", "purejaxrl", "--purejaxrl-src", str(tmp_path),
                           "--out", out]) == 2
    assert f"no purejaxrl/ppo.py under {tmp_path}" in capsys.readouterr().err


def test_markdown_puts_a_jax_peer_beside_ours_in_the_seed_table(tmp_path):
    """rejax's headline row has its compile seconds and one-thread warm run; its vmapped seeds
    join our seed table with the ratio per seed count; a count it lacks shows dashes."""
    seed = {"num_seeds": 1, "warm_seconds": 4.0, "steps_per_second": 5_000.0, "mean_return": 500.0,
            "min_seed_return": 500.0, "compile_seconds": 2.0, "devices": 1}
    rejax_seed = {"num_seeds": 1, "warm_seconds": 5.0, "mean_return": 480.0, "compile_seconds": 4.0}
    purejaxrl = {"library": "PureJaxRL", "versions": {"purejaxrl": "commit 146b4856d593", "jax": "0.10.2"},
                 "total_steps": 20_000, "cold_seconds": 12.0, "compile_seconds": 3.5, "learn_seconds": 2.5,
                 "mean_return": 500.0, "threads": 1, "seed_threads": 1, "seeds": [{**rejax_seed, "warm_seconds": 4.4}]}
    results = {
        **PPO_RESULTS,
        "ours_one_seed": {**seed, "warm_seconds": 2.0, "steps_per_second": 10_000.0},
        "seeds": [seed, {**seed, "num_seeds": 4, "warm_seconds": 8.0}, {**seed, "num_seeds": 16, "warm_seconds": 30.0}],
        "purejaxrl": purejaxrl,
        "rejax": {"library": "rejax", "versions": {"rejax": "0.1.3", "jax": "0.10.2"}, "total_steps": 20_000,
                  "cold_seconds": 15.0, "compile_seconds": 4.0, "learn_seconds": 3.0, "mean_return": 490.0,
                  "threads": 1, "notes": ["constant learning rate"],
                  "seeds": [rejax_seed, {**rejax_seed, "num_seeds": 4, "warm_seconds": 12.0}]},
    }
    text = _report(tmp_path, results, "python scripts/benchmark.py --only ppo --peers rejax")
    assert "| rejax 0.1.3 (jax 0.10.2, 1 XLA thread) | 15.0 s | 4.0 s | 3.00 s | 6,667 | 490.0 |" in text
    # Warm: 3.0 / 2.0 on one thread; with default threads the peer's own seed, 5.0 / 4.0.
    assert "Speed-up over rejax, warm: **1.5x**; cold: **1.5x** (warm with XLA's default threads: 1.2x)." in text
    assert ("| PureJaxRL commit 146b4856d593 (jax 0.10.2, 1 XLA thread) | 12.0 s | 3.5 s | 2.50 s | 8,000 | 500.0 |"
            in text)
    assert ("Speed-up over PureJaxRL, warm: **1.2x**; cold: **1.2x** (warm with XLA's default threads, "
            "PureJaxRL's seed on 1 as it cannot run on them: 1.1x).") in text
    assert "PureJaxRL's `jax.jit(jax.vmap(train))` over as many seeds, timed the same way but on 1 XLA thread" in text
    # One column pair per jax peer, in PEERS' order (rejax, then PureJaxRL).
    assert "| 1 | 4.00 | 1.00x | 5,000 | 500.0 | 500.0 | 5.00 (480.0) | 1.25x | 4.40 (480.0) | 1.10x |" in text
    assert "| 4 | 8.00 | 2.00x | 5,000 | 500.0 | 500.0 | 12.00 (480.0) | 1.50x | - | - |" in text
    assert "| 16 | 30.00 | 7.50x | 5,000 | 500.0 | 500.0 | - | - | - | - |" in text
    assert "How rejax's PPO differs from SB3's here: constant learning rate." in text


def test_threshold_report_ratios_our_presets_to_rejax_per_algorithm():
    """rejax's tuned PPO, DQN and PQN get rows named for their own hyperparameters, and each
    of our presets its ratio against rejax's run of the same algorithm."""
    thresholds = {
        "seeds": [0],
        "ours": [_run("jaxrl", algo, "CartPole-v1", 475.0, 2.0, 20_000) for algo in ("ppo", "dqn", "pqn")],
        "rejax": [_run("rejax", "ppo", "CartPole-v1", 475.0, 6.0, 30_000),
                  _run("rejax", "dqn", "CartPole-v1", 475.0, 10.0, 40_000),
                  _run("rejax", "pqn", "CartPole-v1", 475.0, None, None)],
    }
    text = "\n".join(benchmark._threshold_markdown(thresholds))
    assert "| rejax DQN, its own tuned hyperparameters | 10.0 s | 40,000 | 1/1 |" in text
    assert "| rejax PQN, its own tuned hyperparameters | not reached | - | 0/1 |" in text
    assert "PPO preset `CartPole-v1` **3.0x** sooner than rejax's" in text
    assert "DQN preset `CartPole-v1` **5.0x** sooner than rejax's" in text
    assert "PQN preset `CartPole-v1` **" not in text  # no ratio against a run that never reached it
    assert "rejax: PPO, DQN and PQN with the hyperparameters of rejax's" in text


def test_threshold_section_times_every_requested_peer(tmp_path, monkeypatch):
    """`--only thresholds --peers sb3,rejax` hands both peers' interpreters to the section
    (rejax runs its own tuned configs there; only the identical-hyperparameter runs are SB3's)."""
    seen = {}
    monkeypatch.setattr(benchmark, "ensure_peer_venv", lambda peer, path: tmp_path / peer / "bin" / "python")
    monkeypatch.setattr(benchmark, "run_thresholds", lambda peer_pythons, **kw: seen.update(peer_pythons) or {})
    monkeypatch.setattr(benchmark, "write_markdown", lambda *a: None)
    monkeypatch.setattr(benchmark, "machine", lambda: {})
    (tmp_path / "benchmarks.md").write_text("")
    out = str(tmp_path / "benchmarks.md")
    assert benchmark.main(["--only", "thresholds", "--peers", "sb3,rejax", "--out", out]) == 0
    assert set(seen) == {"sb3", "rejax"}


def test_threshold_runs_go_seed_by_seed_through_every_preset(monkeypatch):
    """Our time-to-threshold runs alternate the presets within each seed, so a slow stretch of
    the machine does not land on one preset's runs alone; the report says so."""
    calls = []

    def fake_run(cache, algo_name, preset_name, threshold, eval_every, seed):
        calls.append((seed, algo_name, preset_name))
        return {"library": "jaxrl", "algo": algo_name, "preset": preset_name, "env": "CartPole-v1",
                "threshold": threshold, "reached": None}

    monkeypatch.setattr(benchmark, "time_to_threshold_subprocess", fake_run)
    monkeypatch.setattr(benchmark, "IDENTICAL", {})
    out = benchmark.run_thresholds({}, seeds=(0, 1))
    cases = [(algo, preset) for algo, preset, *_ in benchmark.THRESHOLD_CASES]
    assert calls == [(seed, *case) for seed in (0, 1) for case in cases]
    assert "our runs seed by seed" in "\n".join(benchmark._threshold_markdown(out))


def test_peer_cases_give_sb3_the_presets_hyperparameters():
    """The SB3 side of the MinAtar/Brax cases is derived from our presets' configs, so the
    two sides cannot drift apart; each case goes to the peer script as one JSON argument."""
    import json

    from jaxrl import presets

    for algo, preset, steps, overrides in benchmark.CASES:
        json.dumps(benchmark.peer_case(algo, preset, steps, overrides))
    ppo = benchmark.peer_case("ppo", "brax/hopper", 200_000)
    c = presets.get("ppo", "brax/hopper").config(total_steps=200_000)
    assert (ppo["num_envs"], ppo["kwargs"]["n_steps"], ppo["kwargs"]["n_epochs"]) == (
        c.num_envs, c.num_steps, c.update_epochs)
    assert ppo["kwargs"]["batch_size"] * c.num_minibatches == c.num_envs * c.num_steps
    assert ppo["total_steps"] == 200_000 // (c.num_envs * c.num_steps) * c.num_envs * c.num_steps
    assert ppo["kwargs"]["clip_range_vf"] == c.clip_eps and ppo["anneal_lr"] == c.anneal_lr
    assert ppo["normalize"] == {"obs": True, "reward": True} and ppo["activation"] == c.activation
    assert ppo["policy_kwargs"]["net_arch"] == {"pi": list(c.hidden_sizes), "vf": list(c.hidden_sizes)}
    sac = benchmark.peer_case("sac", "brax/hopper", 20_000, {"layer_norm": False})
    c = presets.get("sac", "brax/hopper").config(total_steps=20_000, layer_norm=False)
    assert (sac["num_envs"], sac["kwargs"]["train_freq"], sac["kwargs"]["gradient_steps"]) == (
        c.num_envs, c.num_steps, c.gradient_steps)
    assert sac["kwargs"]["learning_starts"] == c.learning_starts and sac["kwargs"]["ent_coef"] == "auto"
    assert sac["policy_kwargs"] == {"net_arch": list(c.hidden_sizes), "n_critics": c.num_critics}
    assert "use_sde" not in sac["kwargs"] and "use_sde" not in ppo["kwargs"]
    # gSDE presets carry it over: SB3's use_sde, sde_sample_freq and the noise's log std.
    ppo = benchmark.peer_case("ppo", "Pendulum-v1", 100_000)
    assert (ppo["kwargs"]["use_sde"], ppo["kwargs"]["sde_sample_freq"], ppo["policy_kwargs"]["log_std_init"]) == (
        True, 4, 0.0)
    sac = benchmark.peer_case("sac", "MountainCarContinuous-v0", 50_000)
    assert (sac["kwargs"]["use_sde"], sac["kwargs"]["sde_sample_freq"], sac["policy_kwargs"]["log_std_init"]) == (
        True, -1, -3.67)
    assert sac["kwargs"]["ent_coef"] == 0.1 and sac["kwargs"]["train_freq"] == sac["kwargs"]["gradient_steps"] == 32
    from jaxrl.peers.peer_library import adapt

    with pytest.raises(ValueError, match="sbx's sac has no gSDE"):
        adapt("sbx", "sac", sac["kwargs"])


def test_peer_case_refuses_what_sb3_cannot_express(monkeypatch):
    import dataclasses

    from jaxrl import presets

    with pytest.raises(ValueError, match="no SB3 case for 'dqn'"):
        benchmark.peer_case("dqn", "CartPole-v1", 50_000)
    # The SAC Brax presets' LayerNorm has no SB3 counterpart: the case must switch it off.
    with pytest.raises(ValueError, match="no LayerNorm.*'layer_norm': False"):
        benchmark.peer_case("sac", "brax/ant", 20_000)
    get = presets.get
    monkeypatch.setattr(presets, "get", lambda algo, name: dataclasses.replace(
        get(algo, name), overrides={**get(algo, name).overrides, "network": "cnn"}))
    with pytest.raises(ValueError, match="Breakout-MinAtar.*pick an MLP preset"):
        benchmark.peer_case("ppo", "Breakout-MinAtar", 250_000)


def test_peers_step_our_envs_in_venvs_of_their_own():
    """gymnax 1.0.1 does not install beside the gymnasium the SB3 venvs pin."""
    sbx = benchmark.env_requirements("sbx")
    assert "sbx-rl==0.28.0" in sbx and "gymnasium==1.3.0" in sbx and "gymnasium==1.4.0" not in sbx
    assert all("==" in r for r in sbx)
    venv = benchmark.PEERS["sb3"].venv
    assert benchmark.env_venv(venv) != venv and benchmark.env_venv(venv).parent == venv.parent


def test_cases_report_gives_both_sides_and_the_ratios():
    peer = {"library": "stable-baselines3", "versions": {"stable_baselines3": "2.9.2"}, "process_seconds": 80.0,
            "env_compile_seconds": 5.0, "learn_seconds": 60.0, "steps_per_second": 4_000.0, "mean_return": 9.5}
    rows = [{"algo": "ppo", "preset": "Breakout-MinAtar", "env": "Breakout-MinAtar", "total_steps": 250_000,
             "ours": {"cold_seconds": 40.0, "compile_seconds": 4.0, "seconds": 6.0, "steps_per_second": 41_000.0,
                      "return": 10.5}, "sb3": peer}]
    text = "\n".join(benchmark._cases_markdown(rows))
    assert "### PPO Breakout-MinAtar (preset `Breakout-MinAtar`), 250,000 env steps" in text
    assert "| jaxrl | 40.0 s | 4.0 s | 6.0 s | 41,000 | 10.5 |" in text
    assert "| Stable-Baselines3 2.9.2 | 80.0 s | 5.0 s (the env) | 60.0 s | 4,000 | 9.5 |" in text
    assert "SB3: warm **10.0x**, cold **2.0x**" in text
    rows[0]["flops"] = 1.2e12
    text = "\n".join(benchmark._cases_markdown(rows, peak_gflops=400.0))
    assert "| 6.0 s | 41,000 | 10.5 | 200 (50%) |" in text and "| 4,000 | 9.5 | 20 (5%) |" in text


def test_cases_go_seed_by_seed_and_report_medians_and_mean_returns(monkeypatch):
    """Each case runs its seeds one at a time, ours then each peer, so a slow stretch of the
    machine lands on both sides; the report gives the median seed's seconds, the mean return
    and each seed's return."""
    calls = []

    def cold(cache, threads, algo_name, preset_name, threshold, eval_every, seed, overrides):
        calls.append(("jaxrl", seed))
        assert not cache and threads is None and overrides == {"total_steps": eval_every}
        return {"process_seconds": 10.0 + seed, "final_return": 100.0 * (seed + 1), "env": "Breakout-MinAtar",
                "evaluations": [(245_760, 100.0 * (seed + 1), 9.0)]}

    def peer(name, python, script, args):
        case, seed = json.loads(args[0]), args[1]
        calls.append((name, seed))
        assert script == "sb3_cases.py" and case["algo"] == "ppo"
        return {"library": "stable-baselines3", "versions": {"stable_baselines3": "2.9.2"},
                "env_steps": 245_760, "learn_seconds": [30.0, 50.0, 40.0][seed], "env_compile_seconds": 4.0,
                "mean_return": 10.0 * seed, "steps_per_second": 1.0}

    def warm(algo, preset, overrides, steps, seeds):
        return {"env_steps": 245_760, "compile_seconds": 5.0, "seconds": 8.0, "steps_per_second": 30_720.0,
                "runs": [{"seed": s, "seconds": 8.0} for s in seeds]}

    monkeypatch.setattr(benchmark, "time_to_threshold_subprocess", cold)
    monkeypatch.setattr(benchmark, "_run_peer", peer)
    monkeypatch.setattr(benchmark, "throughput_ours", warm)
    monkeypatch.setattr(benchmark, "case_flops", lambda *a: None)
    [row] = benchmark.run_cases({"sb3": "python"}, cases=[("ppo", "Breakout-MinAtar", 250_000, {})], seeds=(0, 1, 2))
    assert calls == [("jaxrl", 0), ("sb3", 0), ("jaxrl", 1), ("sb3", 1), ("jaxrl", 2), ("sb3", 2)]
    assert row["ours"]["cold_seconds"] == 11.0 and row["ours"]["returns"] == [100.0, 200.0, 300.0]
    assert row["ours"]["return"] == 200.0 and row["ours"]["seconds"] == 8.0
    assert row["sb3"]["learn_seconds"] == 40.0 and row["sb3"]["mean_return"] == 10.0
    assert row["sb3"]["steps_per_second"] == 245_760 / 40.0
    text = "\n".join(benchmark._cases_markdown([row]))
    assert "seeds 0, 1, 2 each side" in text and "the median seed's" in text
    assert "| 8.0 s | 30,720 | 200.0 (100.0, 200.0, 300.0) |" in text
    assert "| 40.0 s | 6,144 | 10.0 (0.0, 10.0, 20.0) |" in text
    assert "SB3: warm **5.0x**, cold **" in text


def test_case_flops_count_the_networks_per_trained_env_step():
    actor = 400 * 256 + 256 * 256 + 256 * 3  # Breakout-MinAtar: 10x10x4 inputs, 3 actions
    critic = 400 * 256 + 256 * 256 + 256
    env_steps = 250_000 // 8192 * 8192  # whole iterations of 64 envs x 128 steps
    assert benchmark.case_flops("ppo", "Breakout-MinAtar", 250_000) == 2 * (actor + critic) * 13 * env_steps


def test_env_requirements_pin_what_constraints_txt_pins():
    """The peers step our envs with the versions CI tests them with."""
    from pathlib import Path

    root = Path(benchmark.__file__).resolve().parent.parent
    pins = dict(line.split("==") for line in (root / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    pins = {name.lower(): version for name, version in pins.items()}
    for requirement in benchmark.ENV_REQUIREMENTS:
        name, version = requirement.split("==")
        assert pins[name.lower()] == version, requirement


def test_cases_section_times_the_sb3_api_peers_in_their_env_venvs(tmp_path, monkeypatch):
    """`--only cases --peers sb3,sbx,rejax` hands run_cases SB3's and sbx's `-envs` venvs
    (rejax has no SB3 API to give the same hyperparameters to)."""
    venvs, seen = {}, {}
    monkeypatch.setattr(benchmark, "ensure_peer_venv",
                        lambda peer, path, requirements=None: venvs.setdefault(peer, (path, requirements))[0])
    monkeypatch.setattr(benchmark, "run_cases", lambda peer_pythons: seen.update(peer_pythons) or [])
    monkeypatch.setattr(benchmark, "write_markdown", lambda *a: None)
    monkeypatch.setattr(benchmark, "machine", lambda: {})
    (tmp_path / "benchmarks.md").write_text("")
    out = str(tmp_path / "benchmarks.md")
    assert benchmark.main(["--only", "cases", "--peers", "sb3,sbx,rejax", "--out", out]) == 0
    assert set(seen) == set(venvs) == {"sb3", "sbx"}
    for peer, (path, requirements) in venvs.items():
        assert path == benchmark.env_venv(benchmark.PEERS[peer].venv)
        assert requirements == benchmark.env_requirements(peer)


def test_limits_report_gives_one_cores_peak_when_it_was_measured():
    lim = {"square_matmul_gflops": {512: 190.0, 1024: 200.0}, "peak_gflops": 200.0,
           "update_shape_gflops": {"128x64x64": 90.0, "2048x64x64": 85.0}, "bandwidth_gbs": 5.0,
           "flops_per_env_step": {"ppo_reference": 1.0, "dqn_preset": 2.0},
           "updates": [{"name": "PPO reference, 1 seed(s)", "steps_per_second": 1e5, "gflops": 50.0}]}
    without = "\n".join(benchmark._limits_markdown(lim))
    assert "one core's peak" not in without  # results measured before it was timed
    lim = {**lim, "one_core_square_matmul_gflops": {512: 100.0, 1024: 96.0}, "one_core_peak_gflops": 100.0}
    text = "\n".join(benchmark._limits_markdown(lim))
    assert "512: 100, 1024: 96 GFLOP/s: one core's peak is **100 GFLOP/s**, 50% of the machine's" in text
    assert "128 x 64 @ 64 x 64 product runs at 90% of it" in text
    assert "| PPO reference, 1 seed(s) | 100,000 | 50.0 | 25% | 56% |" in text


def test_one_core_matmul_peak_is_measured_on_one_xla_thread(monkeypatch):
    calls = []

    def fake_run(argv, **kwargs):
        calls.append(argv[-1])
        return type("Done", (), {"returncode": 0, "stdout": '{"128": 50.0, "256": 60.0}\n'})()

    monkeypatch.setattr(benchmark.subprocess, "run", fake_run)
    assert benchmark.one_core_square_matmul_gflops() == {128: 50.0, 256: 60.0}
    assert "layout.use_cpu_threads(1)" in calls[0] and "square_matmul_gflops()" in calls[0]
