"""The fab dispatching environment (envs/fab), its rule baselines, and action masking in PPO."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.fab import RULES, FabEnv, rule_policy, slot_features
from envs.fab.env import FINISHED, PROCESSING, QUEUED, UNRELEASED
from envs.fab.evaluate import rollout_episodes

SMALL = "fab/small-v0"


def _bare(name=SMALL, **kw):
    return envs.make(name, wrap=False, **kw)


def test_registered_ids_spaces_and_mask_through_standard_wrappers():
    for name in ("fab/small-v0", "fab/realistic-v0"):
        assert name in envs.registered()
    env, params = envs.make(SMALL)  # the standard wrapper stack
    assert isinstance(env.unwrapped, FabEnv)
    assert env.action_space(params) == envs.Discrete(4)
    obs, state = jax.jit(env.reset)(jax.random.PRNGKey(0), params)
    assert obs.shape == env.observation_space(params).shape and obs.dtype == jnp.float32
    mask = env.action_mask(obs, params)  # forwarded by every wrapper
    assert mask.dtype == bool and mask.shape == (4,)
    assert int(mask.sum()) >= 2  # single-lot epochs are dispatched automatically
    np.testing.assert_array_equal(mask, obs[:4] > 0.5)
    # Batches of observations work too (algorithms mask stored trajectories).
    assert env.action_mask(jnp.stack([obs, obs]), params).shape == (2, 4)
    # Envs without masks report None (all actions valid).
    cartpole, cp_params = envs.make("CartPole-v1")
    assert cartpole.action_mask(jnp.zeros(4), cp_params) is None
    with pytest.raises(ValueError, match="fab/small-v0"):
        envs.make("fab/smal-v0")


def _invariant_rollout(num_envs, num_steps, key):
    """Random rollouts (half the actions drawn over *all* slots, so invalid choices occur)
    through the standard wrappers; per-step invariant flags, reduced over steps."""
    env, params = envs.make(SMALL)
    fab = env.unwrapped
    L = fab.num_lots
    groups = jnp.asarray(fab.machine_group)

    def one_env(key):
        reset_key, key = jax.random.split(key)
        obs, state = env.reset(reset_key, params)

        def step(carry, key):
            obs, state = carry
            k_mask, k_any, k_pick, k_env = jax.random.split(key, 4)
            mask = env.action_mask(obs, params)
            masked = jax.random.categorical(k_mask, jnp.where(mask, 0.0, -jnp.inf))
            anything = jax.random.randint(k_any, (), 0, fab.num_slots)
            action = jnp.where(jax.random.bernoulli(k_pick), masked, anything)
            prev = state.env_state
            obs2, state2, reward, terminated, truncated, info = env.step(k_env, state, action, params)
            # `after` is the state that followed the action (before any auto-reset): rebuild
            # it by stepping the bare env (deterministic given the state).
            _, after, _, _, _, _ = fab.step(k_env, prev, action, params)
            lot = info["dispatched_lot"]
            group_of = params.routes[prev.product, jnp.clip(prev.step, 0, fab.max_route_length - 1)]
            checks = {}
            # Dispatches: only a lot waiting in a visible slot of the deciding machine's
            # queue, onto that (idle) machine; invalid picks are flagged and replaced.
            checks["dispatched_lot_was_queued"] = prev.status[lot] == QUEUED
            checks["dispatched_lot_was_visible"] = jnp.any(prev.slots == lot)
            checks["dispatched_to_its_group"] = group_of[lot] == groups[prev.machine]
            checks["machine_was_idle"] = prev.machine_lot[prev.machine] == -1
            checks["invalid_flag_exact"] = info["invalid_action"] == ~mask[action]
            checks["mask_matches_slots"] = jnp.all(mask == (prev.slots >= 0))
            # Conservation: every lot in exactly one place, processing <=> on one machine.
            busy_lots = jnp.where(after.machine_lot >= 0, after.machine_lot, L)
            on_machine = jnp.zeros(L, jnp.int32).at[busy_lots].add(1, mode="drop")
            checks["one_lot_per_machine_and_machine_per_lot"] = jnp.all(on_machine <= 1)
            checks["processing_iff_on_machine"] = jnp.all((on_machine == 1) == (after.status == PROCESSING))
            checks["status_valid"] = jnp.all((after.status >= UNRELEASED) & (after.status <= FINISHED))
            checks["machine_end_matches_lot"] = jnp.all(jnp.where(
                after.machine_lot >= 0,
                after.machine_until == after.lot_end[jnp.maximum(after.machine_lot, 0)], True))
            checks["finished_lots_stay_finished"] = jnp.all(
                jnp.where(prev.status == FINISHED, after.status == FINISHED, True))
            checks["steps_never_decrease"] = jnp.all(after.step >= prev.step)
            released = jnp.sum(after.status != UNRELEASED)
            finished = jnp.sum(after.status == FINISHED)
            checks["wip_non_negative"] = (info["wip"] >= 0) & (released - finished >= 0) & (
                info["wip"] == released - finished)
            checks["time_never_decreases"] = after.time >= prev.time
            checks["all_lots_finish_at_the_end"] = jnp.where(
                terminated, info["lots_finished"] == L, info["lots_finished"] < L)
            checks["return_is_minus_total_cost"] = jnp.where(
                info["episode_done"],
                jnp.abs(info["episode_return"] + info["total_cost"]) <= 1e-3 * (1 + info["total_cost"]),
                True)
            checks["reward_non_positive"] = reward <= 1e-6
            checks["never_truncated"] = ~truncated
            return (obs2, state2), (checks, terminated)

        _, (checks, terminated) = jax.lax.scan(step, (obs, state), jax.random.split(key, num_steps))
        return jax.tree.map(jnp.all, checks), terminated.sum()

    return jax.jit(jax.vmap(one_env))(jax.random.split(key, num_envs))


def test_invariants_over_thousands_of_vmapped_random_rollouts():
    checks, episodes = _invariant_rollout(num_envs=2048, num_steps=48, key=jax.random.PRNGKey(7))
    failed = {name: int((~ok).sum()) for name, ok in checks.items() if not bool(ok.all())}
    assert not failed, f"invariants violated (number of rollouts): {failed}"
    assert int(episodes.sum()) >= 1000  # most rollouts completed at least one whole episode


def test_return_is_minus_cost_and_figures_on_complete_episodes():
    env, params = _bare()
    keys = jax.random.split(jax.random.PRNGKey(3), 64)
    res = jax.jit(lambda k: rollout_episodes(env, params, rule_policy("fifo", 4), k))(keys)
    np.testing.assert_allclose(-res["return"], res["total_cost"], rtol=1e-4, atol=1e-4)
    assert np.all(res["lots_finished"] == env.num_lots)
    assert np.all(res["mean_cycle_time"] > 0) and np.all(res["mean_tardiness"] >= 0)
    assert np.all((res["utilisation"] > 0) & (res["utilisation"] <= 1))
    assert np.all(res["throughput"] > 0)
    # Cost decomposition: (1/L) sum w (T + c CT) >= c * mean CT (weights >= 1).
    assert np.all(res["total_cost"] >= params.cycle_time_weight * res["mean_cycle_time"] - 1e-4)
    assert np.all(res["steps"] <= env.max_episode_steps(params))


def test_rules_pick_what_they_promise():
    env, params = _bare()
    obs, state = jax.jit(env.reset)(jax.random.PRNGKey(11), params)
    mask, feats = slot_features(obs, 4)
    assert int(mask.sum()) >= 2
    from envs.fab.env import SLOT_FEATURE_NAMES as F
    idx = {n: i for i, n in enumerate(F)}
    valid = np.flatnonzero(np.asarray(mask))
    f = np.asarray(feats)
    expect = {
        "fifo": valid[np.argmax(f[valid, idx["waiting_time"]])],
        "edd": valid[np.argmin(f[valid, idx["due_in"]])],
        "spt": valid[np.argmin(f[valid, idx["proc_time"]])],
        "cr": valid[np.argmin(f[valid, idx["due_in"]] / f[valid, idx["remaining_work"]])],
    }
    for name, slot in expect.items():
        assert int(jax.jit(rule_policy(name, 4))(obs, jax.random.PRNGKey(0))) == slot, name
    picks = jax.jit(jax.vmap(lambda k: rule_policy("random", 4)(obs, k)))(
        jax.random.split(jax.random.PRNGKey(0), 500))
    assert set(np.unique(np.asarray(picks))) == set(valid.tolist())
    with pytest.raises(ValueError, match="Unknown dispatching rule"):
        rule_policy("lifo", 4)


def _all_rules(env, params, keys, names=RULES):
    """Total cost per rule (one compiled program for every rule)."""
    rules = [rule_policy(r, env.num_slots) for r in names]

    def run(i):
        return rollout_episodes(env, params, lambda o, k: jax.lax.switch(i, rules, o, k), keys)

    costs = jax.jit(jax.vmap(run))(jnp.arange(len(rules)))["total_cost"]
    return dict(zip(names, costs))


def test_due_date_rules_beat_fifo_and_random_on_common_seeds():
    env, params = _bare()
    keys = jax.random.split(jax.random.PRNGKey(2024), 256)
    cost = {r: float(c.mean()) for r, c in _all_rules(env, params, keys).items()}
    assert cost["edd"] < 0.85 * cost["fifo"], cost
    assert cost["cr"] < cost["fifo"] and cost["edd"] < cost["random"], cost


def test_params_vmap_for_sweeps_and_domain_randomisation():
    env, params = _bare()
    intervals = jnp.array([2.0, 2.5, 4.0])
    batch = jax.tree.map(lambda x: jnp.broadcast_to(x, (3,) + jnp.shape(x)), params)
    batch = batch.replace(release_interval=intervals)
    keys = jax.random.split(jax.random.PRNGKey(0), 32)
    res = jax.jit(jax.vmap(lambda p: rollout_episodes(env, p, rule_policy("fifo", 4), keys)))(batch)
    cost = np.asarray(res["total_cost"].mean(-1))
    # Releasing lots faster congests the fab: cost falls as the release interval grows.
    assert cost[0] > cost[1] > cost[2], cost


def test_invalid_action_raises_eagerly_and_falls_back_to_oldest_lot_under_jit():
    env, params = _bare()
    key = jax.random.PRNGKey(5)
    obs, state = env.reset(key, params)
    mask = np.asarray(env.action_mask(obs))
    # Find an invalid action: an empty slot if any, else out of range.
    bad = int(np.flatnonzero(~mask)[0]) if (~mask).any() else env.num_slots
    with pytest.raises(ValueError, match="empty or invalid queue slot"):
        env.step(key, state, bad, params)
    with pytest.raises(ValueError, match="empty or invalid queue slot"):
        env.step(key, state, -1, params)
    step = jax.jit(env.step)
    obs_bad, state_bad, r_bad, *_, info_bad = step(key, state, bad, params)
    obs_0, state_0, r_0, *_, info_0 = step(key, state, 0, params)
    assert bool(info_bad["invalid_action"]) and not bool(info_0["invalid_action"])
    np.testing.assert_array_equal(obs_bad, obs_0)  # the oldest lot (slot 0) was dispatched
    assert float(r_bad) == float(r_0)


def test_bad_params_raise_clear_errors():
    with pytest.raises(ValueError, match="proc_time_scale must be > 0"):
        envs.make(SMALL, proc_time_scale=0.0)
    with pytest.raises(ValueError, match="proc_time_scale must be > 0"):
        envs.make(SMALL, proc_time_scale=-1.0)
    env, params = _bare()
    with pytest.raises(ValueError, match="proc_time_scale must be > 0"):
        env.reset(jax.random.PRNGKey(0), params.replace(proc_time_scale=jnp.asarray(-2.0)))
    empty = params.replace(route_length=params.route_length.at[1].set(0))
    with pytest.raises(ValueError, match=r"empty route"):
        env.reset(jax.random.PRNGKey(0), empty)
    with pytest.raises(ValueError, match="routes must name tool groups"):
        env.reset(jax.random.PRNGKey(0), params.replace(routes=params.routes.at[0, 0].set(7)))
    with pytest.raises(ValueError, match="shape"):
        env.reset(jax.random.PRNGKey(0), params.replace(routes=params.routes[:, :3]))
    with pytest.raises(ValueError, match="Unknown FabParams field"):
        envs.make(SMALL, release_rate=1.0)


def test_bad_params_under_jit_have_the_documented_safe_behaviour():
    env, params = _bare()
    keys = jax.random.split(jax.random.PRNGKey(1), 16)
    run = jax.jit(lambda p: rollout_episodes(env, p, rule_policy("fifo", 4), keys))
    # Non-positive scale: processing times are clamped to MIN_PROC_TIME, so the fab is
    # (nearly) instantaneous: every lot finishes, cycle times are ~0, nothing is NaN.
    res = run(params.replace(proc_time_scale=jnp.asarray(-1.0)))
    assert np.all(res["lots_finished"] == env.num_lots)
    assert np.all(np.isfinite(res["total_cost"])) and np.all(res["mean_cycle_time"] < 0.1)
    # Empty route: that product's lots finish at release (zero cycle time); the rest run.
    empty = params.replace(route_length=params.route_length.at[1].set(0))
    res_empty, res_ok = run(empty), run(params)
    assert np.all(res_empty["lots_finished"] == env.num_lots)
    assert np.all(np.isfinite(res_empty["total_cost"]))
    assert float(res_empty["mean_cycle_time"].mean()) < float(res_ok["mean_cycle_time"].mean())


# ---------------------------------------------------------------------- PPO masking


def _ppo_agent(**overrides):
    from jaxrl.algos import ppo

    env, params = envs.make(SMALL)
    config = ppo.PPOConfig(**{"num_envs": 16, "num_steps": 32, "total_steps": 16 * 32 * 4,
                              **overrides})
    return ppo.make(env, params, config), env, params


@pytest.mark.parametrize("recurrent", [False, True])
def test_ppo_masked_actions_have_zero_probability_and_never_reach_the_env(recurrent):
    from jaxrl.rollout import collect

    agent, env, params = _ppo_agent(recurrent=recurrent, normalize_observations=True)
    state = jax.jit(agent.init)(jax.random.PRNGKey(0))

    @jax.jit
    def rollout(s):
        policy = agent.extras["rollout_policy"](s.params, s.obs_stats)
        return collect(env, params, policy, s.hidden, s.envs, jax.random.PRNGKey(1), 64)[2]

    traj = rollout(state)
    mask = env.action_mask(traj.obs, params)
    assert not bool(mask.all())  # some slots were empty, so masking mattered
    assert bool(jnp.take_along_axis(mask, traj.action[..., None], -1).all())
    assert bool(jnp.isfinite(traj.log_prob).all())
    # Acting (what evaluation uses), sampled and greedy, also respects the mask.
    pp = agent.policy_params(state)
    obs = traj.obs.reshape(-1, traj.obs.shape[-1])[:256]
    keys = jax.random.split(jax.random.PRNGKey(2), obs.shape[0])
    for deterministic in (False, True):
        if recurrent:
            act = jax.vmap(lambda o, k: agent.act(pp, o, k, deterministic)[0])
        else:
            act = jax.vmap(lambda o, k: agent.act(pp, o, k, deterministic))
        acts = jax.jit(act)(obs, keys)
        m = env.action_mask(obs, params)
        assert bool(jnp.take_along_axis(m, acts[:, None], -1).all())
    # An update runs with finite losses.
    state, metrics = jax.jit(agent.update)(state)
    assert all(bool(jnp.isfinite(v)) for v in jax.tree.leaves(metrics))


def test_ppo_policy_distribution_zeroes_masked_logits():
    from jaxrl.algos.ppo import ActorCritic

    agent, env, params = _ppo_agent()
    state = jax.jit(agent.init)(jax.random.PRNGKey(0))
    network = agent.extras["network"]
    obs = jnp.zeros(env.observation_space(params).shape).at[:2].set(1.0)  # slots 0, 1 valid
    mask = env.action_mask(obs, params)
    dist = network.apply(state.params, obs, mask, method=ActorCritic.policy)
    probs = np.asarray(dist.probs)
    assert probs[2] == 0 and probs[3] == 0 and abs(probs[:2].sum() - 1) < 1e-6
    assert np.isfinite(float(dist.entropy())) and float(dist.entropy()) <= np.log(2) + 1e-5


@pytest.mark.slow
def test_ppo_learns_to_beat_random_and_fifo_on_the_small_fab():
    from jaxrl import presets, train
    from jaxrl.algos import ppo

    preset = presets.get("ppo", "fab/small-v0")
    env, params = envs.make(preset.env)
    budget = 64 * 32 * 120  # a short run (the preset trains longer)
    config = preset.config(total_steps=budget)
    agent = ppo.make(env, params, config)
    state, _ = jax.jit(train(agent, budget // agent.steps_per_iteration))(jax.random.PRNGKey(0))
    pp = agent.policy_params(state)
    keys = jax.random.split(jax.random.PRNGKey(10_000), 256)  # held out from training
    cost = {
        "ppo": jax.jit(lambda k: rollout_episodes(
            env, params, lambda o, kk: agent.act(pp, o, kk, True), k))(keys)["total_cost"],
        **_all_rules(env.unwrapped, params, keys, ("fifo", "random")),
    }
    mean = {k: float(v.mean()) for k, v in cost.items()}
    # Paired comparison on common random numbers: PPO is clearly better on average.
    for rule in ("fifo", "random"):
        diff = np.asarray(cost[rule] - cost["ppo"])
        assert diff.mean() > 3 * diff.std() / np.sqrt(len(diff)), (rule, mean)
    assert mean["ppo"] < 0.9 * mean["fifo"], mean


@pytest.mark.parametrize("algo_name", ["dqn", "pqn"])
def test_value_based_agents_respect_the_mask_when_acting_and_learning(algo_name):
    from jaxrl import algos
    from jaxrl import config as cfg
    from jaxrl.rollout import collect

    env, params = envs.make("fab/small-v0")
    algo = algos.get(algo_name)
    small = {"dqn": dict(num_envs=8, num_steps=4, buffer_size=256, batch_size=32, learning_starts=32,
                         gradient_steps=1, total_steps=4096, hidden_sizes=(32, 32), epsilon_end=0.5),
             "pqn": dict(num_envs=8, num_steps=8, num_minibatches=2, update_epochs=1, total_steps=4096,
                         hidden_sizes=(32, 32), epsilon_end=0.5)}[algo_name]
    agent = algo.make(env, params, cfg.apply_overrides(algo.Config(), small))
    state = jax.jit(agent.init)(jax.random.PRNGKey(0))
    update = jax.jit(agent.update)
    for _ in range(6):  # DQN starts learning after 32 env steps
        state, metrics = update(state)
    assert all(bool(jnp.isfinite(v)) for v in jax.tree.leaves(metrics)), metrics

    def random_valid(carry, obs, first, key):
        logits = jnp.where(env.action_mask(obs, params), 0.0, -jnp.inf)
        return carry, jax.random.categorical(key, logits), jnp.zeros(obs.shape[0])

    traj = jax.jit(lambda e: collect(env, params, random_valid, None, e, jax.random.PRNGKey(1), 32)[2])(
        state.envs)
    obs = traj.obs.reshape(-1, traj.obs.shape[-1])
    mask = env.action_mask(obs, params)
    assert not bool(mask.all())
    pp = agent.policy_params(state)
    keys = jax.random.split(jax.random.PRNGKey(2), obs.shape[0])
    for deterministic in (False, True):
        acts = jax.jit(jax.vmap(lambda o, k: agent.act(pp, o, k, deterministic)))(obs, keys)
        assert bool(jnp.take_along_axis(mask, acts[:, None], -1).all())


def test_masked_q_targets_ignore_disallowed_actions_and_terminal_masks():
    from jaxrl.algos import dqn

    q_target = jnp.array([[5.0, 1.0, 2.0], [9.0, 9.0, 9.0]])
    q_online = jnp.array([[9.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    mask = jnp.array([[False, True, True], [False, False, False]])  # row 2: terminal, none allowed
    rewards, discounts = jnp.array([1.0, 1.0]), jnp.array([0.5, 0.0])
    plain = dqn.q_learning_targets(rewards, discounts, q_target, mask)
    double = dqn.double_q_learning_targets(rewards, discounts, q_target, q_online, mask)
    np.testing.assert_allclose(plain, [1.0 + 0.5 * 2.0, 1.0])  # max over allowed {1, 2}
    np.testing.assert_allclose(double, [1.0 + 0.5 * 2.0, 1.0])  # online argmax over allowed = 2
    assert bool(jnp.isfinite(plain).all() & jnp.isfinite(double).all())
