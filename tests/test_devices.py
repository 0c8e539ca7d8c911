"""Several devices and processes: a sweep laid over 2 (forced) CPU devices equals the
one-device sweep; a data-parallel run (envs split over 2 devices, gradients averaged) and a
run with the actor and critic learning on two devices match their one-device twins; two
jax.distributed processes on localhost run one sharded sweep whose results equal the
single-process sweep."""

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxrl import cli

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ["--preset", "none", "--total-steps", "128", "--set", "num_envs=4", "--set", "num_steps=8",
            "--set", "num_minibatches=2", "--set", "update_epochs=1", "--set", "hidden_sizes=16",
            "--eval-episodes", "2", "--seeds", "2", "--grid", "lr=1e-3,3e-4"]

TWO_DEVICES = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from jaxrl.train import enable_compilation_cache, run
    enable_compilation_cache({cache!r})
    import jax, numpy as np
    from jaxrl.sweep import sweep
    from tiny_configs import make_tiny

    def max_diff(a, b):
        return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
                   for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    out = {{"devices": len(jax.devices())}}
    agent, total = make_tiny("ppo", iterations=4)
    grid = {{"learning_rate": [1e-3, 3e-4]}}
    two = sweep(agent, grid, num_seeds=2, total_steps=total, eval_episodes=2)
    one = sweep(agent, grid, num_seeds=2, total_steps=total, eval_episodes=2, devices=jax.devices()[:1])
    leaf = jax.tree.leaves(two.state.params)[0]
    out["sweep_devices"] = [two.num_devices, len(leaf.sharding.device_set)]
    out["sweep_returns"] = [two.returns.tolist(), one.returns.tolist()]
    out["sweep_param_diff"] = max_diff(two.state.params, one.state.params)

    common = dict(total_steps=total, eval_episodes=2, progress=False)
    split = run(agent, num_seeds=1, shard="envs", **common)
    single = run(agent, num_seeds=1, **common)
    obs = split.state.envs.obs
    out["dp_obs_sharding"] = [len(obs.sharding.device_set), str(obs.sharding.spec)]
    out["dp_param_diff"] = max_diff(split.state.params, single.state.params)
    out["dp_param_scale"] = max(float(np.max(np.abs(np.asarray(x)))) for x in jax.tree.leaves(single.state.params))
    out["dp_returns"] = [split.summary["per_seed_return"], single.summary["per_seed_return"]]
    seeds2 = run(agent, num_seeds=2, shard="seeds", **common)
    seeds1 = run(agent, num_seeds=2, **common)
    out["seeds_param_diff"] = max_diff(seeds2.state.params, seeds1.state.params)

    # One seed's (and two seeds') actor and critic learning on the two devices.
    nets1 = run(agent, num_seeds=1, shard="networks", **common)
    nets2 = run(agent, num_seeds=2, shard="networks", **common)
    out["networks_devices"] = len(jax.tree.leaves(nets1.state.params)[0].sharding.device_set)
    out["networks_param_diff"] = [max_diff(nets1.state.params, single.state.params),
                                  max_diff(nets2.state.params, seeds1.state.params)]
    out["networks_returns"] = [nets2.summary["per_seed_return"], seeds1.summary["per_seed_return"]]
    # A networks run stopped halfway, for the test to resume in a fresh process, and its twin.
    longer, longer_total = make_tiny("ppo", iterations=8)
    saved = dict(total_steps=longer_total, num_seeds=1, eval_episodes=2, progress=False, num_logs=8,
                 shard="networks", metadata={{"env_kwargs": {{}}, "preset": None}})
    run(longer, logdir={stopped!r}, stop_after=4, **saved)
    run(longer, logdir={whole!r}, **saved)
    try:
        run(make_tiny("dqn", iterations=4)[0], num_seeds=1, shard="networks", **common)
    except ValueError as error:
        out["networks_error"] = str(error)

    # The swap under them: each device gets the other's buffer, bit for bit, also vmapped.
    import jax.numpy as jnp
    from jax.sharding import Mesh, PartitionSpec as P
    from jaxrl import native
    mesh = Mesh(np.array(jax.devices()), ("d",))
    x = jax.random.normal(jax.random.PRNGKey(3), (2, 3, 5))
    swap = jax.jit(jax.shard_map(lambda a: native.swap(a, "d"), mesh=mesh, in_specs=P("d"), out_specs=P("d")))
    vswap = jax.jit(jax.shard_map(jax.vmap(lambda a: native.swap(a, "d")), mesh=mesh, in_specs=P("d"),
                                  out_specs=P("d")))
    out["swap_native"] = "jaxrl_exchange" in swap.lower(x).as_text()
    out["swap_exact"] = [bool(np.array_equal(swap(x), x[::-1])), bool(np.array_equal(vswap(x), x[::-1]))]
    native._load = lambda: False  # as without a C compiler: the all_gather fallback
    fallback = jax.jit(jax.shard_map(lambda a: native.swap(a, "d"), mesh=mesh, in_specs=P("d"), out_specs=P("d")))
    out["swap_fallback"] = ["jaxrl_exchange" in fallback.lower(x).as_text(), bool(np.array_equal(fallback(x), x[::-1]))]
    print("RESULT " + json.dumps(out))
""")


def _env():
    return {**os.environ, "JAX_PLATFORMS": "cpu"}


def test_two_devices_sharded_sweep_and_data_parallel_run(tmp_path):
    script = tmp_path / "two_devices.py"
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    script.write_text(TWO_DEVICES.format(tests=str(ROOT / "tests"), cache=jax.config.jax_compilation_cache_dir,
                                         stopped=str(stopped), whole=str(whole)))
    env = {**_env(), "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT ", 1)[1])
    print(out)
    assert out["devices"] == 2
    # The sweep's (combination x seed) axis is laid over both devices ...
    assert out["sweep_devices"] == [2, 2]
    # ... and gives the one-device results.
    assert out["sweep_returns"][0] == out["sweep_returns"][1]
    assert out["sweep_param_diff"] < 1e-5
    # Data parallel: each device holds half of the envs; parameters match within float tolerance.
    assert out["dp_obs_sharding"][0] == 2 and "'d'" in out["dp_obs_sharding"][1]
    assert out["dp_param_diff"] < 1e-4 * max(1.0, out["dp_param_scale"])
    assert out["seeds_param_diff"] < 1e-5
    # Actor and critic on the two devices: the one-device training, up to float rounding.
    assert out["networks_devices"] == 2
    assert max(out["networks_param_diff"]) < 1e-4 * max(1.0, out["dp_param_scale"])
    np.testing.assert_allclose(*out["networks_returns"], rtol=0.05)
    assert "separate networks" in out["networks_error"] and "dqn" in out["networks_error"]
    assert out["swap_native"] and out["swap_exact"] == [True, True]
    assert out["swap_fallback"] == [False, True]

    # `jaxrl train --resume` in a fresh process, without layout flags, sets up the recorded
    # layout (two CPU devices, networks) and ends where the uninterrupted run ended.
    resumed = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "--resume", str(stopped), "--no-progress"],
                             capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "on 2 devices (networks sharded)" in resumed.stdout
    last = [list(csv.DictReader(open(d / "metrics.csv")))[-1] for d in (stopped, whole)]
    assert last[0]["iteration"] == last[1]["iteration"] == "8"
    assert {k: v for k, v in last[0].items() if k != "wall_seconds"} == \
        {k: v for k, v in last[1].items() if k != "wall_seconds"}
    refused = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "--resume", str(stopped), "--shard", "seeds"],
                             capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=300)
    assert refused.returncode == 2 and "trained with --shard networks" in refused.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_run_one_sharded_sweep(tmp_path, capsys):
    port = _free_port()
    env = {**_env(), "JAXRL_CACHE_DIR": jax.config.jax_compilation_cache_dir}
    logdir = tmp_path / "distributed"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "jaxrl.cli", "sweep", "ppo", "--env", "CartPole-v1", *SETTINGS,
             "--logdir", str(logdir), "--coordinator", f"localhost:{port}", "--num-processes", "2",
             "--process-id", str(i)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for i in range(2)
    ]
    outputs = []
    try:
        for p in processes:
            outputs.append(p.communicate(timeout=600))
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, err[-3000:]
    assert "2 device(s) in 2 process(es)" in outputs[0][0]
    distributed = json.loads((logdir / "results.json").read_text())
    assert distributed["num_devices"] == 2

    reference = tmp_path / "single"
    assert cli.main(["sweep", "ppo", "--env", "CartPole-v1", *SETTINGS, "--logdir", str(reference)]) == 0
    single = json.loads((reference / "results.json").read_text())
    assert single["num_devices"] == 1
    assert distributed["per_seed_return"] == single["per_seed_return"]
    assert distributed["best"] == single["best"]
    np.testing.assert_allclose([r["iqm"] for r in distributed["table"]], [r["iqm"] for r in single["table"]])


@pytest.mark.parametrize("argv,message", [
    (["--coordinator", "localhost:1"], "go together"),
    (["--coordinator", "localhost:1", "--num-processes", "2", "--process-id", "2"], "--process-id=2"),
])
def test_distributed_flags_bad_input(argv, message, capsys):
    assert cli.main(["sweep", "ppo", "--grid", "lr=1e-3", *argv]) == 2
    assert message in capsys.readouterr().err
