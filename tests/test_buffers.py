"""Replay buffers (uniform, prioritized) and n-step targets against NumPy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxrl import buffers
from jaxrl.buffers import (
    add,
    can_sample,
    linear_schedule,
    n_step_targets,
    n_step_transitions,
    prioritized_add,
    prioritized_init,
    prioritized_sample,
    prioritized_update,
    sample,
    set_priorities,
    uniform_init,
)

EXAMPLE = dict(obs=jnp.zeros(2, jnp.float32), action=jnp.int32(0))


def _batch(values):
    """Transitions whose obs and action both encode `values`, so slots are identifiable."""
    values = np.asarray(values)
    return dict(obs=np.stack([values, -values], 1).astype(np.float32), action=values.astype(np.int32))


def _with_sentinel(state, sentinel=-7):
    """Fill every slot with a sentinel that valid transitions never hold."""
    return state.replace(data=jax.tree.map(lambda d: jnp.full_like(d, sentinel), state.data))


# ---------------------------------------------------------------------------------------
# Uniform buffer
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("init,add_fn", [(uniform_init, add), (prioritized_init, prioritized_add)])
def test_wraparound_matches_numpy_circular_buffer(init, add_fn):
    capacity = 5
    reference = np.zeros(capacity, np.int32)
    position = 0
    state = init(EXAMPLE, capacity)
    for chunk in (np.arange(3) + 10, np.arange(4) + 20):
        for value in chunk:  # textbook one-at-a-time circular buffer
            reference[position] = value
            position = (position + 1) % capacity
        state = jax.jit(add_fn)(state, _batch(chunk))
    np.testing.assert_array_equal(state.data["action"], reference)
    np.testing.assert_array_equal(state.data["obs"][:, 1], -reference)
    assert int(state.size) == 5
    assert int(state.position) == 2
    assert state.data["obs"].dtype == jnp.float32 and state.data["action"].dtype == jnp.int32


def test_sample_never_returns_invalid_slots():
    state = _with_sentinel(uniform_init(EXAMPLE, 10))
    state = add(state, _batch([1, 2, 3, 4]))
    keys = jax.random.split(jax.random.PRNGKey(0), 50)
    batch, indices = jax.jit(jax.vmap(sample, in_axes=(None, 0, None)), static_argnums=2)(state, keys, 400)
    actions = np.asarray(batch["action"]).ravel()
    assert not np.any(actions == -7)
    assert set(np.unique(actions)) == {1, 2, 3, 4}  # every valid slot reachable
    assert np.all((np.asarray(indices) >= 0) & (np.asarray(indices) < 4))
    # Roughly uniform over the 4 valid slots (20k draws).
    counts = np.bincount(actions, minlength=5)[1:]
    assert stats.chisquare(counts).pvalue > 1e-3


def test_can_sample_and_capacity_guard():
    state = uniform_init(EXAMPLE, 4)
    assert not bool(can_sample(state, 1))
    state = add(state, _batch([1, 2, 3]))
    assert bool(can_sample(state, 3)) and not bool(can_sample(state, 4))
    with pytest.raises(ValueError, match="capacity"):
        add(state, _batch(np.arange(5)))


def test_jit_and_vmap_over_independent_buffers():
    """Three buffers (as if three seeds) advanced by one vmapped, jitted program equal three
    separate runs."""
    num, capacity, B = 3, 6, 4

    def step(state, batch, key):
        state = add(state, batch)
        sampled, indices = sample(state, key, 5)
        return state, sampled, indices

    states = jax.vmap(lambda _: uniform_init(EXAMPLE, capacity))(jnp.arange(num))
    batches = [
        jax.tree.map(lambda *x: np.stack(x), *[_batch(np.arange(B) + 100 * s + 10 * r) for s in range(num)])
        for r in range(2)
    ]
    keys = jax.random.split(jax.random.PRNGKey(1), (2, num))
    vstep = jax.jit(jax.vmap(step))
    singles = [uniform_init(EXAMPLE, capacity) for _ in range(num)]
    for r in range(2):
        states, sampled, indices = vstep(states, batches[r], keys[r])
        for s in range(num):
            one_batch = jax.tree.map(lambda x: x[s], batches[r])
            singles[s], ref_sampled, ref_indices = step(singles[s], one_batch, keys[r, s])
            np.testing.assert_array_equal(indices[s], ref_indices)
            np.testing.assert_array_equal(sampled["action"][s], ref_sampled["action"])
    for s in range(num):
        np.testing.assert_array_equal(states.data["action"][s], singles[s].data["action"])
    np.testing.assert_array_equal(states.size, [6, 6, 6])
    np.testing.assert_array_equal(states.position, [2, 2, 2])
    # Buffers are independent: each holds only its own seed's values.
    assert all(set(np.asarray(states.data["action"][s]) // 100) == {s} for s in range(num))


# ---------------------------------------------------------------------------------------
# Prioritized buffer
# ---------------------------------------------------------------------------------------


def _draw(state, num_keys, batch_size, beta=0.5, seed=0):
    keys = jax.random.split(jax.random.PRNGKey(seed), num_keys)
    fn = jax.jit(jax.vmap(prioritized_sample, in_axes=(None, 0, None, None)), static_argnums=2)
    return fn(state, keys, batch_size, beta)


def _filled(capacity, size, td_errors, alpha):
    state = _with_sentinel(prioritized_init(EXAMPLE, capacity))
    state = prioritized_add(state, _batch(np.arange(size)))
    return prioritized_update(state, jnp.arange(size), jnp.asarray(td_errors, jnp.float32), alpha)


def _assert_frequencies(indices, probs):
    probs = np.asarray(probs, np.float64) / np.sum(probs, dtype=np.float64)
    counts = np.bincount(np.asarray(indices).ravel(), minlength=len(probs))
    assert len(counts) == len(probs), "sampled an index outside the valid slots"
    assert stats.chisquare(counts, probs * counts.sum()).pvalue > 1e-3
    np.testing.assert_allclose(counts / counts.sum(), probs, rtol=0.05)


def test_prioritized_frequencies_follow_priority_alpha_and_react_to_updates():
    # Capacity 12 -> 16 leaves; only 10 slots are filled, so 6 empty slots + 4 padding leaves.
    alpha, eps = 0.7, 1e-6
    td = np.array([0.1, 2.0, 0.5, 1.0, 3.0, 0.05, 1.5, 0.7, 0.2, 4.0], np.float32)
    state = _filled(12, 10, td, alpha)
    priorities = (np.abs(td) + eps) ** alpha
    np.testing.assert_allclose(state.priorities()[:10], priorities, rtol=1e-5)
    batch, indices, _ = _draw(state, 200, 1000)  # 200k draws
    assert not np.any(np.asarray(batch["action"]) == -7)  # never an empty slot
    np.testing.assert_array_equal(batch["action"], indices)
    _assert_frequencies(indices, priorities / priorities.sum())

    # Flip the priorities of two slots: their frequencies must follow.
    state = prioritized_update(state, jnp.array([0, 9]), jnp.array([4.0, 0.1]), alpha)
    priorities[[0, 9]] = priorities[[9, 0]]
    _, indices, _ = _draw(state, 200, 1000, seed=1)
    _assert_frequencies(indices, priorities / priorities.sum())


def test_prioritized_alpha_zero_is_uniform():
    state = _filled(8, 8, np.linspace(0.01, 5.0, 8), alpha=0.0)
    _, indices, weights = _draw(state, 50, 400)
    _assert_frequencies(indices, np.full(8, 1 / 8))
    np.testing.assert_allclose(weights, 1.0, rtol=1e-5)


@pytest.mark.parametrize("beta", [0.0, 0.4, 1.0])
def test_importance_weights_match_numpy_reference(beta):
    td = np.array([0.3, 1.0, 2.5, 0.01, 0.8, 5.0], np.float32)
    state = _filled(8, 6, td, alpha=0.6)
    sample_fn = jax.jit(prioritized_sample, static_argnums=2)
    _, indices, weights = sample_fn(state, jax.random.PRNGKey(3), 16, beta)
    p = (np.abs(td).astype(np.float64) + 1e-6) ** 0.6
    P = p / p.sum()
    w = (6 * P[np.asarray(indices)]) ** -beta
    np.testing.assert_allclose(weights, w / w.max(), rtol=1e-4)
    assert float(np.max(weights)) == pytest.approx(1.0)


def test_traced_alpha_and_beta_under_vmap():
    """One compiled program serves several (alpha, beta) values."""
    td = np.array([0.3, 1.0, 2.5, 0.01], np.float32)
    base = prioritized_add(prioritized_init(EXAMPLE, 4), _batch(np.arange(4)))

    def run(alpha, beta):
        state = prioritized_update(base, jnp.arange(4), td, alpha)
        return state.priorities(), prioritized_sample(state, jax.random.PRNGKey(0), 8, beta)

    alphas, betas = jnp.array([0.0, 0.5, 1.0]), jnp.array([1.0, 0.5, 0.0])
    priorities, (_, indices, weights) = jax.jit(jax.vmap(run))(alphas, betas)
    for a, b, pr, idx, w in zip(alphas, betas, priorities, indices, weights):
        ref_p = (np.abs(td) + 1e-6) ** float(a)
        np.testing.assert_allclose(pr, ref_p, rtol=1e-5)
        ref_w = (ref_p[np.asarray(idx)] / ref_p[np.asarray(idx)].min()) ** -float(b)
        np.testing.assert_allclose(w, ref_w, rtol=1e-4)


def test_new_items_get_max_priority():
    state = prioritized_init(EXAMPLE, 8)
    state = prioritized_add(state, _batch([0, 1, 2]))
    np.testing.assert_allclose(state.priorities()[:3], 1.0)  # max priority starts at 1
    state = prioritized_update(state, jnp.array([1]), jnp.array([8.0]), alpha=1.0)
    state = prioritized_update(state, jnp.array([1]), jnp.array([0.5]), alpha=1.0)  # max is a running max
    assert float(state.max_priority) == pytest.approx(8.0)
    state = prioritized_add(state, _batch([3, 4]))
    np.testing.assert_allclose(state.priorities()[3:5], 8.0, rtol=1e-6)
    np.testing.assert_allclose(state.priorities()[5:], 0.0)


def test_duplicate_indices_last_write_wins_and_invalid_slots_ignored():
    state = prioritized_add(prioritized_init(EXAMPLE, 8), _batch(np.arange(4)))
    # Slot 2 appears three times (last value 0.25); slot 6 is empty and must stay empty.
    indices = jnp.array([2, 0, 2, 6, 2, 1])
    values = jnp.array([9.0, 3.0, 7.0, 5.0, 0.25, 2.0])
    state = jax.jit(set_priorities)(state, indices, values)
    np.testing.assert_allclose(state.priorities(), [3.0, 2.0, 0.25, 1.0, 0, 0, 0, 0])
    assert float(state.tree[1]) == pytest.approx(6.25)
    assert float(state.max_priority) == pytest.approx(9.0)  # max over every valid write


def test_last_occurrence_mask_matches_numpy():
    """The explicit de-duplication behind last-write-wins (XLA:CPU applies duplicate
    scatter writes in order anyway, so the update test alone cannot catch its loss)."""
    rng = np.random.default_rng(0)
    slots = rng.integers(0, 6, 40)
    reference = np.array([slots[i] not in slots[i + 1:] for i in range(len(slots))])
    order = np.argsort(slots, kind="stable")
    last = jax.jit(buffers._last_occurrence_sorted)(jnp.asarray(slots[order]))
    np.testing.assert_array_equal(np.asarray(last), reference[order])


def _check_tree(tree, reference, num_leaves):
    tree = np.asarray(tree, np.float64)
    np.testing.assert_allclose(tree[num_leaves:num_leaves + len(reference)], reference, rtol=1e-6)
    np.testing.assert_allclose(tree[num_leaves + len(reference):], 0.0)
    for node in range(1, num_leaves):  # every parent is the sum of its children
        assert tree[node] == pytest.approx(tree[2 * node] + tree[2 * node + 1], rel=1e-5)
    assert tree[1] == pytest.approx(reference.sum(), rel=1e-5)


@pytest.mark.parametrize("capacity", [1, 7, 16, 37])
def test_sum_tree_total_matches_numpy_after_random_adds_and_updates(capacity):
    rng = np.random.default_rng(capacity)
    state = prioritized_init(EXAMPLE, capacity)
    num_leaves = state.tree.shape[0] // 2
    assert num_leaves >= capacity and num_leaves & (num_leaves - 1) == 0
    reference, position, size, max_p = np.zeros(capacity), 0, 0, 1.0
    batch_size = min(3, capacity)
    add_fn, update_fn = jax.jit(prioritized_add), jax.jit(prioritized_update)
    for _ in range(12):
        for _ in range(batch_size):
            reference[position] = max_p
            position, size = (position + 1) % capacity, min(size + 1, capacity)
        state = add_fn(state, _batch(rng.integers(0, 9, batch_size)))
        idx = rng.integers(0, size, 4)
        td = rng.exponential(2.0, 4).astype(np.float32)
        p = (np.abs(td) + 1e-6) ** 0.6
        for i, v in zip(idx, p):
            reference[i] = v
        max_p = max(max_p, p.max())
        state = update_fn(state, jnp.asarray(idx), jnp.asarray(td), 0.6)
        _check_tree(state.tree, reference, num_leaves)
    assert int(state.size) == size and int(state.position) == position
    assert float(state.max_priority) == pytest.approx(max_p, rel=1e-6)


def test_prioritized_sampling_survives_round_off_at_segment_edges():
    """Tiny and huge priorities next to empty slots: every draw lands on a filled slot
    with positive priority."""
    state = _with_sentinel(prioritized_init(EXAMPLE, 20))
    state = prioritized_add(state, _batch(np.arange(7)))
    state = set_priorities(state, jnp.arange(7), jnp.array([1e-8, 1e6, 1e-8, 3.0, 1e-7, 1e6, 1e-8]))
    batch, indices, weights = _draw(state, 20, 512)
    assert np.all(np.asarray(indices) < 7)
    assert not np.any(np.asarray(batch["action"]) == -7)
    assert np.all(np.asarray(state.priorities())[np.asarray(indices)] > 0)
    assert np.all(np.isfinite(weights)) and np.all(np.asarray(weights) > 0)


def test_sum_tree_descent_at_exact_segment_edges():
    """Targets exactly on (and by round-off just past) the edges of the mass: the random
    draws almost never hit these, so the descent is checked directly."""
    state = prioritized_add(prioritized_init(EXAMPLE, 16), _batch(np.arange(6)))
    state = set_priorities(state, jnp.arange(6), jnp.array([1.0, 0.0, 2.0, 0.0, 1.0, 0.0]))
    # Slots 1, 3 and 5 (the last filled one) hold zero priority; 6..15 are empty. Total = 4.
    targets = jnp.array([0.0, 1.0, 2.9, 3.0, 4.0, 4.0 * (1 + 1e-6), 1e9])
    indices, priorities = jax.jit(buffers._find_leaves)(state.tree, targets, state.size)
    np.testing.assert_array_equal(indices, [0, 2, 2, 4, 4, 4, 4])
    np.testing.assert_array_equal(priorities, [1.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0])


# ---------------------------------------------------------------------------------------
# n-step targets
# ---------------------------------------------------------------------------------------


def n_step_reference(rewards, terminated, truncated, gamma, n):
    """Straightforward loop over one stream."""
    T = len(rewards)
    returns, discounts, offsets = np.zeros(T), np.zeros(T), np.zeros(T, int)
    for t in range(T):
        total, k, bootstrap = 0.0, 0, True
        for j in range(n):
            if t + j >= T:
                break
            total += gamma**j * rewards[t + j]
            k += 1
            if terminated[t + j]:
                bootstrap = False
                break
            if truncated[t + j]:
                break
        returns[t], offsets[t] = total, k
        discounts[t] = gamma**k if bootstrap else 0.0
    return returns, discounts, offsets


def _nstep_stream(seed, T, kind):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=T).astype(np.float32)
    terminated, truncated = np.zeros(T, bool), np.zeros(T, bool)
    if kind in ("terminated", "mixed"):
        terminated[[2, 9, 10]] = True  # including back-to-back one-step episodes
    if kind in ("truncated", "mixed"):
        truncated[[5, 13]] = True
    return rewards, terminated, truncated


@pytest.mark.parametrize("n", [1, 3, 5])
def test_n_step_targets_match_numpy_reference(n):
    gamma, T = 0.9, 18
    kinds = ["none", "terminated", "truncated", "mixed"]
    streams = [_nstep_stream(i, T, kind) for i, kind in enumerate(kinds)]
    rewards, terminated, truncated = (np.stack(x, axis=1) for x in zip(*streams))  # (T, 4)
    out = jax.jit(n_step_targets, static_argnums=4)(rewards, terminated, truncated, gamma, n)
    for i, stream in enumerate(streams):
        ref_returns, ref_discounts, ref_offsets = n_step_reference(*stream, gamma, n)
        np.testing.assert_allclose(out.returns[:, i], ref_returns, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out.discounts[:, i], ref_discounts, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(out.lengths[:, i], ref_offsets)
        np.testing.assert_array_equal(out.bootstrap_indices[:, i], np.arange(T) + ref_offsets - 1)
    if n == 1:  # one-step TD targets
        np.testing.assert_allclose(out.returns, rewards, rtol=1e-6)
        np.testing.assert_allclose(out.discounts, gamma * (1.0 - terminated), rtol=1e-6)
        np.testing.assert_array_equal(out.bootstrap_indices, np.broadcast_to(np.arange(T)[:, None], (T, 4)))


def test_n_step_terminated_vs_truncated_inside_window():
    gamma, n = 0.5, 4
    rewards = jnp.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    end = jnp.zeros(6, bool).at[2].set(True)
    term = n_step_targets(rewards, end, jnp.zeros(6, bool), gamma, n)
    trunc = n_step_targets(rewards, jnp.zeros(6, bool), end, gamma, n)
    for out in (term, trunc):  # the sum stops at the episode end either way
        assert float(out.returns[0]) == pytest.approx(1 + 0.5 * 2 + 0.25 * 4)
        assert int(out.lengths[0]) == 3 and int(out.bootstrap_indices[0]) == 2
        assert float(out.returns[3]) == pytest.approx(8 + 0.5 * 16 + 0.25 * 32)  # next episode
    assert float(term.discounts[0]) == 0.0  # termination: no bootstrap
    assert float(trunc.discounts[0]) == pytest.approx(0.5**3)  # truncation: bootstrap gamma^k
    # Window cut by the end of the batch: bootstrap from the last step.
    assert int(term.lengths[4]) == 2 and int(term.bootstrap_indices[4]) == 5
    assert float(term.discounts[4]) == pytest.approx(0.25)


def test_n_step_transitions_pick_the_bootstrap_observation_and_fit_the_buffer():
    T, N, n, gamma = 8, 2, 3, 0.9
    obs = np.arange(T * N * 2, dtype=np.float32).reshape(T, N, 2)
    final_obs = obs + 1000.0  # distinguishable from obs
    actions = np.arange(T * N, dtype=np.int32).reshape(T, N)
    rewards = np.ones((T, N), np.float32)
    terminated = np.zeros((T, N), bool)
    truncated = np.zeros((T, N), bool)
    terminated[2, 0] = True
    truncated[4, 1] = True
    args = (obs, actions, rewards, terminated, truncated, final_obs, gamma, n)
    tr = jax.jit(n_step_transitions, static_argnums=7)(*args)
    targets = n_step_targets(rewards, terminated, truncated, gamma, n)
    for t in range(T):
        for i in range(N):
            k = int(targets.bootstrap_indices[t, i])
            np.testing.assert_array_equal(tr["next_obs"][t, i], final_obs[k, i])
    np.testing.assert_array_equal(tr["next_obs"][3, 1], final_obs[4, 1])  # truncated at 4: its final obs
    assert float(tr["discount"][3, 1]) == pytest.approx(gamma**2)
    assert float(tr["discount"][1, 0]) == 0.0
    np.testing.assert_array_equal(tr["obs"], obs)
    np.testing.assert_array_equal(tr["action"], actions)

    flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tr)
    example = jax.tree.map(lambda x: x[0], flat)
    state = add(uniform_init(example, 32), flat)
    batch, indices = sample(state, jax.random.PRNGKey(0), 4)
    np.testing.assert_array_equal(batch["next_obs"], np.asarray(flat["next_obs"])[np.asarray(indices)])


def test_n_step_rejects_bad_n():
    with pytest.raises(ValueError, match="n"):
        n_step_targets(jnp.ones((3, 1)), jnp.zeros((3, 1), bool), jnp.zeros((3, 1), bool), 0.9, 0)


# ---------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------


def test_beta_schedule_reaches_one_and_stays():
    counts = jnp.arange(0, 151)
    beta = jax.jit(jax.vmap(linear_schedule, in_axes=(None, None, None, 0)))(0.4, 1.0, 100, counts)
    assert float(beta[0]) == pytest.approx(0.4)
    assert float(beta[50]) == pytest.approx(0.7)
    np.testing.assert_allclose(beta[100:], 1.0)
    assert np.all(np.diff(np.asarray(beta)) >= -1e-7)
    assert float(linear_schedule(0.4, 1.0, 0, 0)) == pytest.approx(1.0)  # zero-length schedule


def test_module_exports_documented_api():
    for name in ["uniform_init", "add", "sample", "can_sample", "prioritized_init", "prioritized_add",
                 "prioritized_sample", "prioritized_update", "set_priorities", "n_step_targets",
                 "n_step_transitions", "gather_steps", "linear_schedule"]:
        assert callable(getattr(buffers, name)), name


def _assert_loop_writes_in_place(agent, array_type):
    """Compile 3 iterations of `agent`'s training loop and check that its while-loop bodies
    hold an array of HLO type `array_type` (e.g. `f32[50021,`, a size no other array has)
    and never copy it. (A copy of the undonated input state before the loop is fine; one
    per iteration is not.)"""
    import re

    from jaxrl.train import updates

    state = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    text = jax.jit(lambda s: updates(agent, 3)(s)[0]).lower(state).compile().as_text()
    computations = dict(re.findall(r"\n(%[\w.\-]+) \([^\n]*\{\n(.*?)\n\}", text, re.S))
    bodies = [computations[name] for name in re.findall(r" while\(.*?body=(%[\w.\-]+)", text)]
    pattern = re.escape(array_type)
    assert bodies and any(re.search(pattern, body) for body in bodies)
    assert not any(re.search(rf"= {pattern}[^ ]* copy\(", body) for body in bodies)


def test_a_training_loop_writes_its_buffer_in_place():
    """SAC with one env writes one transition per iteration and samples right after: the
    compiled loop must not copy the (capacity, ...) buffer leaves each iteration (a write
    of one row compiled as a dynamic-update-slice made XLA:CPU do so; `_set_rows`)."""
    import envs
    from jaxrl.algos import sac

    capacity = 50_021  # a size no other array in the program has
    env, params = envs.make("Pendulum-v1")
    agent = sac.make(env, params, sac.SACConfig(num_envs=1, num_steps=1, gradient_steps=1,
                                                batch_size=8, hidden_sizes=(8,), learning_starts=1,
                                                buffer_size=capacity, total_steps=100))
    _assert_loop_writes_in_place(agent, f"f32[{capacity},")


def test_prioritized_gradient_steps_update_the_sum_tree_in_place():
    """DQN samples by descending the sum-tree and then sets the sampled slots' priorities.
    If XLA fuses the descent's reads into kernels it runs after the first write, it keeps
    them valid by copying the whole tree every gradient step (three 8 MB copies per
    iteration with a 1M buffer, which made prioritized replay 3-4x slower than uniform):
    `_find_leaves` and `_tree_set` are written so the old tree's reads come first."""
    import envs
    from jaxrl.algos import dqn

    env, params = envs.make("CartPole-v1")
    agent = dqn.make(env, params, dqn.DQNConfig(
        num_envs=1, gradient_steps=2, batch_size=8, hidden_sizes=(8,), learning_starts=1,
        buffer_size=40_000, prioritized=True, total_steps=100))
    _assert_loop_writes_in_place(agent, f"f32[{2 * 65_536}]")  # the tree of 40,000 slots
