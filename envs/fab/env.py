"""An event-driven wafer-fab dispatching simulation, written in JAX.

The model (see docs/fab.md for the full description):

- ``G`` tool groups, group ``g`` holding ``machines_per_group[g]`` identical machines.
- ``num_lots`` lots are released over the episode (exponential inter-release times). Each
  lot belongs to one of ``P`` products; a product's route is a sequence of process steps
  over the tool groups (re-entrant: a group may appear several times). Step ``s`` of
  product ``p`` has mean processing time ``proc_mean[p, s]`` hours, multiplied by
  ``proc_time_scale`` and by a lognormal noise of coefficient of variation ``proc_cv``
  (drawn at reset, so an episode's randomness is fixed by its reset key and policies can
  be compared on common random numbers).
- Each lot has a due date ``release + U(due_factor_low, due_factor_high) * raw process
  time`` and a weight (``hot_weight`` for "hot" lots, probability ``hot_fraction``; 1
  otherwise).
- A *decision epoch* is a moment when some machine is idle and its group's queue is
  non-empty. The decision is which waiting lot the machine takes, among the
  ``num_slots`` lots that have waited longest in that queue (the visible slots, oldest
  first). Epochs with a single waiting lot are dispatched automatically when
  ``auto_dispatch_single`` (default), since there is nothing to choose. ``step`` applies the
  choice and advances the simulation (``lax.while_loop`` over events) to the next epoch.
- Machines never idle while their queue is non-empty (non-idling dispatching).
- If every epoch of an episode is trivial (e.g. near-zero processing times), the episode
  ends inside ``reset`` (``state.machine == -1``, empty mask); the next ``step`` (any action)
  terminates it and pays out the whole cost, so the return is still ``-J``.

Cost (per episode, in hours per lot)::

    J = (1 / num_lots) * sum_i w_i * (tardiness_i + cycle_time_weight * cycle_time_i)

with ``tardiness_i = max(0, completion_i - due_i)`` and ``cycle_time_i = completion_i -
release_i``. Cost accrues continuously while lots are in the fab; the reward of a step is
minus the cost accrued since the previous decision, so the episode return is exactly
``-J``. The episode terminates when every lot has finished (it never truncates).

Observation: a 1-D float32 vector. Its first ``num_slots`` entries are the action mask (1.0
for a slot holding a waiting lot, 0.0 for an empty slot): ``env.action_mask(obs)``. Then
``num_slots * SLOT_FEATURES`` per-slot features (zero for empty slots; see
``SLOT_FEATURE_NAMES``), then global features (deciding group one-hot, queue lengths,
busy fractions, progress).

Bad input:
- Eagerly (concrete arrays), an action whose slot is masked out raises ValueError, and
  ``validate_params`` (called by ``reset`` on concrete params and by the factories) raises
  ValueError for a non-positive processing-time scale, non-positive mean processing times,
  or an empty route.
- Under ``jit``/``vmap`` (traced values, no exceptions possible) the behaviour is safe and
  documented: a masked-out action is replaced by the first valid slot (the oldest waiting
  lot, i.e. FIFO) and ``info["invalid_action"]`` is True; processing times are clamped to at
  least ``MIN_PROC_TIME`` hours; a lot whose product has an empty route finishes at its
  release (zero cost).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Environment
from envs.spaces import Box, Discrete

__all__ = ["FabEnv", "FabParams", "FabState", "SLOT_FEATURE_NAMES", "MIN_PROC_TIME",
           "validate_params"]

# Lot status codes.
UNRELEASED, QUEUED, PROCESSING, FINISHED = 0, 1, 2, 3
MIN_PROC_TIME = 1e-3  # hours: processing times are clamped to at least this under jit
INF = jnp.inf

SLOT_FEATURE_NAMES = (
    "waiting_time",      # time in this queue / raw process time of a lot
    "proc_time",         # mean processing time of this step / mean step time
    "due_in",            # (due date - now) / raw process time (negative when late)
    "remaining_work",    # mean processing time left, this step included / raw process time
    "slack",             # due_in - remaining_work
    "remaining_steps",   # steps left, this one included / route length
    "hot",               # 1 for a hot (high-weight) lot
    "weight",            # lot weight / hot_weight
    "time_in_fab",       # (now - release) / raw process time
    "next_queue",        # lots queued at the group of the next step / its machines (0 if last)
)
SLOT_FEATURES = len(SLOT_FEATURE_NAMES)


@struct.dataclass
class FabParams:
    """Rates and distributions (all arrays: vmap over them for sweeps and domain
    randomisation). Shapes are fixed by the env: ``P`` products, routes of at most ``R``
    steps."""

    routes: jax.Array  # (P, R) int32: tool group of each step (entries past the length unused)
    route_length: jax.Array  # (P,) int32: steps in each product's route (>= 1)
    proc_mean: jax.Array  # (P, R) float32: mean processing time of each step, hours (> 0)
    product_mix: jax.Array  # (P,) float32: release probabilities of the products
    proc_time_scale: jax.Array = 1.0  # multiplies every processing time (> 0)
    proc_cv: jax.Array = 0.25  # coefficient of variation of processing times (lognormal)
    release_interval: jax.Array = 1.0  # mean hours between lot releases (exponential)
    due_factor_low: jax.Array = 1.5  # due date = release + U(low, high) * raw process time
    due_factor_high: jax.Array = 3.0
    hot_fraction: jax.Array = 0.2  # probability a lot is hot
    hot_weight: jax.Array = 4.0  # cost weight of a hot lot (others weigh 1)
    cycle_time_weight: jax.Array = 0.1  # cost per hour in the fab, relative to tardiness


@struct.dataclass
class FabState:
    time: jax.Array  # float32 hours
    # Lots (L,)
    product: jax.Array
    release: jax.Array
    due: jax.Array
    weight: jax.Array
    noise: jax.Array  # (L, R) processing-time multipliers drawn at reset
    step: jax.Array  # index of the current route step (== route length when finished)
    status: jax.Array  # UNRELEASED, QUEUED, PROCESSING or FINISHED
    queue_since: jax.Array  # when the lot joined its current queue
    lot_end: jax.Array  # completion time of the step in process (inf otherwise)
    finish: jax.Array  # completion time of the lot (inf until finished)
    # Machines (M,)
    machine_lot: jax.Array  # lot in process (-1 when idle)
    machine_until: jax.Array  # when it frees up (inf when idle)
    busy_time: jax.Array  # processing time started so far
    # The pending decision
    machine: jax.Array  # deciding machine (-1 when the episode is over)
    slots: jax.Array  # (K,) lot index in each visible slot (-1 empty)
    reported_cost: jax.Array  # cost already paid out as reward
    decisions: jax.Array  # decisions taken (int32)


def _concrete(*xs) -> bool:
    return not any(isinstance(leaf, jax.core.Tracer) for x in xs for leaf in jax.tree.leaves(x))


def validate_params(params: FabParams, num_groups: int | None = None) -> None:
    """Raise ValueError for parameters the simulation cannot use (concrete params only)."""
    if not _concrete(params):
        return
    scale = np.asarray(params.proc_time_scale)
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
        raise ValueError(
            f"FabParams.proc_time_scale must be > 0 (it multiplies every processing time), "
            f"got {scale}.")
    length = np.asarray(params.route_length)
    routes = np.asarray(params.routes)
    if np.any(length <= 0):
        bad = np.flatnonzero(np.reshape(length, -1) <= 0).tolist()
        raise ValueError(
            f"FabParams.route_length must be >= 1 for every product: product(s) {bad} have an "
            f"empty route. Give each product at least one process step.")
    if np.any(length > routes.shape[-1]):
        raise ValueError(f"FabParams.route_length {length} exceeds the route array length "
                         f"{routes.shape[-1]}.")
    proc = np.asarray(params.proc_mean)
    steps = np.arange(proc.shape[-1]) < np.asarray(length)[..., None]
    if num_groups is not None and np.any(np.where(steps, (routes < 0) | (routes >= num_groups), False)):
        raise ValueError(f"FabParams.routes must name tool groups 0..{num_groups - 1} on every "
                         f"route step, got {routes.tolist()}.")
    if np.any(np.where(steps, proc, 1.0) <= 0):
        raise ValueError("FabParams.proc_mean must be > 0 on every route step.")
    if np.any(np.asarray(params.proc_cv) < 0):
        raise ValueError(f"FabParams.proc_cv must be >= 0, got {params.proc_cv}.")
    if np.any(np.asarray(params.release_interval) <= 0):
        raise ValueError(f"FabParams.release_interval must be > 0, got {params.release_interval}.")
    mix = np.asarray(params.product_mix)
    if np.any(mix < 0) or np.any(mix.sum(-1) <= 0):
        raise ValueError(f"FabParams.product_mix must be non-negative with a positive sum, got {mix}.")
    if np.any(np.asarray(params.due_factor_high) < np.asarray(params.due_factor_low)):
        raise ValueError("FabParams.due_factor_high must be >= due_factor_low.")


class FabEnv(Environment):
    """The fab dispatching environment (see the module docstring).

    Static sizes (changing them recompiles): ``machines_per_group`` (a tuple, one entry per
    tool group), ``num_lots``, ``num_slots``, ``num_products``, ``max_route_length``.
    """

    def __init__(self, machines_per_group: tuple[int, ...], num_lots: int, num_slots: int,
                 num_products: int, max_route_length: int, default_params: FabParams,
                 auto_dispatch_single: bool = True, name: str = "fab"):
        self.machines_per_group = tuple(int(m) for m in machines_per_group)
        if not self.machines_per_group or min(self.machines_per_group) < 1:
            raise ValueError(f"machines_per_group needs >= 1 machine per group, got {machines_per_group}")
        self.num_groups = len(self.machines_per_group)
        self.num_machines = sum(self.machines_per_group)
        self.machine_group = np.repeat(np.arange(self.num_groups), self.machines_per_group).astype(np.int32)
        self.num_lots = int(num_lots)
        self.num_slots = int(num_slots)
        self.num_products = int(num_products)
        self.max_route_length = int(max_route_length)
        self.auto_dispatch_single = bool(auto_dispatch_single)
        self.name = name
        self._check_shapes(default_params)
        validate_params(default_params, self.num_groups)
        self._default_params = default_params

    # ------------------------------------------------------------------ API
    @property
    def default_params(self) -> FabParams:
        return self._default_params

    def observation_space(self, params=None) -> Box:
        return Box(-np.inf, np.inf, (self.obs_size,), np.float32)

    def action_space(self, params=None) -> Discrete:
        return Discrete(self.num_slots)

    def max_episode_steps(self, params=None) -> int:
        # Every decision dispatches one lot-step.
        return self.num_lots * self.max_route_length

    @property
    def obs_size(self) -> int:
        return self.num_slots * (1 + SLOT_FEATURES) + 3 * self.num_groups + 3

    def action_mask(self, obs, params=None) -> jax.Array:
        """Boolean mask of the valid actions: the first ``num_slots`` observation entries.
        Works on single observations and batches (leading axes are kept)."""
        return obs[..., : self.num_slots] > 0.5

    def reset(self, key, params=None):
        params = self._params(params)
        self._check_shapes(params)
        validate_params(params, self.num_groups)
        L, R = self.num_lots, self.max_route_length
        k_gap, k_prod, k_due, k_hot, k_noise = jax.random.split(key, 5)
        gaps = jax.random.exponential(k_gap, (L,)) * params.release_interval
        release = jnp.cumsum(gaps) - gaps[0]  # the first lot arrives at time 0
        mix = jnp.maximum(params.product_mix, 0.0)
        product = jax.random.choice(k_prod, self.num_products, (L,), p=mix / mix.sum())
        raw = self._raw_time(params)[product]
        factor = jax.random.uniform(k_due, (L,), minval=params.due_factor_low,
                                    maxval=params.due_factor_high)
        hot = jax.random.bernoulli(k_hot, params.hot_fraction, (L,))
        sigma = jnp.sqrt(jnp.log1p(jnp.square(params.proc_cv)))
        noise = jnp.exp(sigma * jax.random.normal(k_noise, (L, R)) - 0.5 * sigma**2)
        M = self.num_machines
        state = FabState(
            time=jnp.zeros((), jnp.float32),
            product=product.astype(jnp.int32),
            release=release.astype(jnp.float32),
            due=(release + factor * raw).astype(jnp.float32),
            weight=jnp.where(hot, params.hot_weight, 1.0).astype(jnp.float32),
            noise=noise.astype(jnp.float32),
            step=jnp.zeros((L,), jnp.int32),
            status=jnp.full((L,), UNRELEASED, jnp.int32),
            queue_since=jnp.full((L,), INF, jnp.float32),
            lot_end=jnp.full((L,), INF, jnp.float32),
            finish=jnp.full((L,), INF, jnp.float32),
            machine_lot=jnp.full((M,), -1, jnp.int32),
            machine_until=jnp.full((M,), INF, jnp.float32),
            busy_time=jnp.zeros((M,), jnp.float32),
            machine=jnp.full((), -1, jnp.int32),
            slots=jnp.full((self.num_slots,), -1, jnp.int32),
            reported_cost=jnp.zeros((), jnp.float32),
            decisions=jnp.zeros((), jnp.int32),
        )
        state = self._advance(state, params)
        return self._obs(state, params), state

    def step(self, key, state: FabState, action, params=None):
        params = self._params(params)
        action = jnp.asarray(action, jnp.int32)
        valid = self._slot_valid(state)
        done_before = state.machine < 0
        in_range = (action >= 0) & (action < self.num_slots)
        chosen_ok = in_range & valid[jnp.clip(action, 0, self.num_slots - 1)]
        if _concrete(state, action) and not bool(done_before) and not bool(chosen_ok):
            raise ValueError(
                f"Action {int(action)} selects an empty or invalid queue slot; valid slots are "
                f"{np.flatnonzero(np.asarray(valid)).tolist()} (use env.action_mask(obs)).")
        invalid = ~chosen_ok & ~done_before
        # Safe behaviour under jit: fall back to the first valid slot (the oldest lot).
        slot = jnp.where(chosen_ok, action, jnp.argmax(valid))
        lot = state.slots[jnp.clip(slot, 0, self.num_slots - 1)]
        dispatched = self._dispatch(state, params, state.machine, lot)
        state = jax.tree.map(lambda a, b: jnp.where(done_before, a, b), state, dispatched)
        state = state.replace(decisions=state.decisions + jnp.where(done_before, 0, 1))
        state = self._advance(state, params)
        cost = self._cost(state, params, state.time)
        reward = -(cost - state.reported_cost)
        state = state.replace(reported_cost=cost)
        terminated = state.machine < 0
        info = self._info(state, params, cost)
        info["invalid_action"] = invalid
        info["dispatched_lot"] = jnp.where(done_before, -1, lot)
        return (self._obs(state, params), state, reward.astype(jnp.float32), terminated,
                jnp.zeros((), bool), info)

    # ----------------------------------------------------------- internals
    def _check_shapes(self, params: FabParams) -> None:
        P, R = self.num_products, self.max_route_length
        expect = {"routes": (P, R), "route_length": (P,), "proc_mean": (P, R), "product_mix": (P,)}
        for field, shape in expect.items():
            got = tuple(np.shape(getattr(params, field)))
            if got != shape:
                raise ValueError(f"FabParams.{field} has shape {got}; this env needs {shape} "
                                 f"({P} products, routes of up to {R} steps).")

    def _raw_time(self, params) -> jax.Array:
        """(P,) mean raw process time of each product's route (hours)."""
        on_route = jnp.arange(self.max_route_length) < params.route_length[:, None]
        return jnp.sum(jnp.where(on_route, params.proc_mean, 0.0), -1) * self._scale(params)

    def _scale(self, params):
        return jnp.maximum(params.proc_time_scale, MIN_PROC_TIME)

    def _lot_group(self, state, params) -> jax.Array:
        """(L,) tool group of each lot's current step (clamped for finished lots)."""
        step = jnp.clip(state.step, 0, self.max_route_length - 1)
        return jnp.clip(params.routes[state.product, step], 0, self.num_groups - 1)

    def _queue_counts(self, state, params) -> jax.Array:
        queued = state.status == QUEUED
        one_hot = jax.nn.one_hot(self._lot_group(state, params), self.num_groups, dtype=jnp.int32)
        return jnp.sum(one_hot * queued[:, None], 0)  # (G,)

    def _slot_valid(self, state) -> jax.Array:
        return state.slots >= 0

    def _cost(self, state, params, t) -> jax.Array:
        """Cost accrued by time ``t`` (closed form over the lots), hours per lot."""
        released = state.release <= t
        end = jnp.minimum(t, state.finish)
        cycle = jnp.where(released, jnp.maximum(end - state.release, 0.0), 0.0)
        late = jnp.where(released, jnp.maximum(end - state.due, 0.0), 0.0)
        per_lot = state.weight * (late + params.cycle_time_weight * cycle)
        return jnp.sum(per_lot) / self.num_lots

    def _dispatch(self, state, params, machine, lot) -> FabState:
        """Start ``lot``'s current step on ``machine`` (both valid) at ``state.time``."""
        step = jnp.clip(state.step[lot], 0, self.max_route_length - 1)
        proc = params.proc_mean[state.product[lot], step] * self._scale(params) * state.noise[lot, step]
        proc = jnp.maximum(proc, MIN_PROC_TIME)
        end = state.time + proc
        return state.replace(
            status=state.status.at[lot].set(PROCESSING),
            lot_end=state.lot_end.at[lot].set(end),
            queue_since=state.queue_since.at[lot].set(INF),
            machine_lot=state.machine_lot.at[machine].set(lot),
            machine_until=state.machine_until.at[machine].set(end),
            busy_time=state.busy_time.at[machine].add(proc),
        )

    def _pending(self, state, params):
        """(machine, number of waiting lots at its group) for the first idle machine whose
        queue is non-empty (machine -1 when none)."""
        counts = self._queue_counts(state, params)
        waiting = counts[self.machine_group]
        ready = (state.machine_lot < 0) & (waiting > 0)
        machine = jnp.where(ready.any(), jnp.argmax(ready), -1)
        return machine, jnp.where(ready.any(), waiting[jnp.maximum(machine, 0)], 0)

    def _fill_slots(self, state, params, machine) -> jax.Array:
        """The ``num_slots`` lots that waited longest in ``machine``'s queue (-1 pads)."""
        group = jnp.asarray(self.machine_group)[jnp.maximum(machine, 0)]
        here = (state.status == QUEUED) & (self._lot_group(state, params) == group) & (machine >= 0)
        # Oldest first; ties by lot index (release order).
        score = jnp.where(here, -state.queue_since, -INF)
        k = min(self.num_slots, self.num_lots)
        values, idx = jax.lax.top_k(score, k)
        slots = jnp.where(values > -INF, idx, -1).astype(jnp.int32)
        if k < self.num_slots:
            slots = jnp.concatenate([slots, jnp.full((self.num_slots - k,), -1, jnp.int32)])
        return slots

    def _process_events(self, state, params) -> FabState:
        """Jump to the next event time and apply every release and completion due then."""
        next_release = jnp.min(jnp.where(state.status == UNRELEASED, state.release, INF))
        t = jnp.minimum(next_release, jnp.min(state.machine_until))
        t = jnp.maximum(t, state.time)  # time never decreases
        released = (state.status == UNRELEASED) & (state.release <= t)
        route_len = params.route_length[state.product]
        completed = (state.status == PROCESSING) & (state.lot_end <= t)
        step = state.step + completed.astype(jnp.int32)
        finished_now = (released | completed) & (step >= route_len)
        status = jnp.where(released | completed, QUEUED, state.status)
        status = jnp.where(finished_now, FINISHED, status)
        queue_since = jnp.where((released | completed) & ~finished_now, t, state.queue_since)
        freed = state.machine_until <= t
        return state.replace(
            time=t,
            step=step,
            status=status,
            queue_since=queue_since,
            lot_end=jnp.where(completed, INF, state.lot_end),
            finish=jnp.where(finished_now, t, state.finish),
            machine_lot=jnp.where(freed, -1, state.machine_lot),
            machine_until=jnp.where(freed, INF, state.machine_until),
        )

    def _advance(self, state, params) -> FabState:
        """Run the simulation to the next decision epoch with a real choice (or the end)."""

        # Every loop iteration releases a lot, completes a step or dispatches one, so this
        # bound is never reached by a valid simulation; it guarantees termination regardless.
        limit = 4 * self.num_lots * (self.max_route_length + 1) + 4
        need = 2 if self.auto_dispatch_single else 1
        # Only the fields the loop changes are carried (the lots' static data stays outside).
        mutable = ("time", "step", "status", "queue_since", "lot_end", "finish", "machine_lot",
                   "machine_until", "busy_time")

        def carry_of(s, i):
            machine, waiting = self._pending(s, params)
            return i, {f: getattr(s, f) for f in mutable}, machine, waiting

        def cond(carry):
            i, mut, machine, waiting = carry
            all_done = jnp.all(mut["status"] == FINISHED)
            return (waiting < need) & ~all_done & (i < limit)

        def body(carry):
            i, mut, machine, waiting = carry
            s = state.replace(**mut)
            # A single waiting lot at an idle machine: dispatch it (nothing to choose).
            group = jnp.asarray(self.machine_group)[jnp.maximum(machine, 0)]
            here = (s.status == QUEUED) & (self._lot_group(s, params) == group)
            auto = self._dispatch(s, params, jnp.maximum(machine, 0), jnp.argmax(here))
            moved = self._process_events(s, params)
            s = jax.tree.map(lambda a, b: jnp.where(machine >= 0, a, b), auto, moved)
            return carry_of(s, i + 1)

        _, mut, machine, _ = jax.lax.while_loop(cond, body, carry_of(state, jnp.zeros((), jnp.int32)))
        state = state.replace(**mut)
        return state.replace(machine=machine.astype(jnp.int32),
                             slots=self._fill_slots(state, params, machine))

    def _obs(self, state, params) -> jax.Array:
        G = self.num_groups
        t = state.time
        scale = self._scale(params)
        raw_all = self._raw_time(params)
        mix = jnp.maximum(params.product_mix, 0.0)
        unit = jnp.maximum(jnp.sum(raw_all * mix) / mix.sum(), MIN_PROC_TIME)  # mean raw time
        mean_len = jnp.maximum(jnp.sum(params.route_length * mix) / mix.sum(), 1.0)
        step_unit = unit / mean_len
        valid = state.slots >= 0
        lot = jnp.maximum(state.slots, 0)
        p = state.product[lot]
        s = jnp.clip(state.step[lot], 0, self.max_route_length - 1)
        length = params.route_length[p]
        steps = jnp.arange(self.max_route_length)
        remaining_mask = (steps[None, :] >= s[:, None]) & (steps[None, :] < length[:, None])
        remaining = jnp.sum(jnp.where(remaining_mask, params.proc_mean[p], 0.0), -1) * scale
        proc = params.proc_mean[p, s] * scale
        counts = self._queue_counts(state, params)
        machines = jnp.asarray(self.machines_per_group, jnp.float32)
        nxt = jnp.clip(s + 1, 0, self.max_route_length - 1)
        next_group = jnp.clip(params.routes[p, nxt], 0, self.num_groups - 1)
        next_queue = jnp.where(s + 1 < length, counts[next_group] / machines[next_group], 0.0)
        due_in = (state.due[lot] - t) / unit
        rem = remaining / unit
        feats = jnp.stack([
            (t - state.queue_since[lot]) / unit,
            proc / step_unit,
            due_in,
            rem,
            due_in - rem,
            (length - s) / jnp.maximum(length, 1),
            (state.weight[lot] > 1.0).astype(jnp.float32),
            state.weight[lot] / jnp.maximum(params.hot_weight, 1.0),
            (t - state.release[lot]) / unit,
            next_queue,
        ], -1)
        feats = jnp.where(valid[:, None], feats, 0.0)
        group = jnp.asarray(self.machine_group)[jnp.maximum(state.machine, 0)]
        group_one_hot = jax.nn.one_hot(group, G) * (state.machine >= 0)
        busy = jnp.zeros(G).at[jnp.asarray(self.machine_group)].add(state.machine_lot >= 0) / machines
        L = self.num_lots
        released = jnp.sum(state.status != UNRELEASED) / L
        finished = jnp.sum(state.status == FINISHED) / L
        obs = jnp.concatenate([
            valid.astype(jnp.float32), feats.reshape(-1), group_one_hot, counts / machines / 4.0,
            busy, jnp.stack([released, finished, released - finished]),
        ])
        return obs.astype(jnp.float32)

    def _info(self, state, params, cost) -> dict[str, Any]:
        t = state.time
        done = state.status == FINISHED
        n_done = jnp.sum(done)
        denom = jnp.maximum(n_done, 1)
        cycle = jnp.where(done, state.finish - state.release, 0.0)
        late = jnp.where(done, jnp.maximum(state.finish - state.due, 0.0), 0.0)
        elapsed = jnp.maximum(t, 1e-9)
        # Busy time counted up to now (a step in process counts only its elapsed part).
        in_process = jnp.where(state.machine_lot >= 0, jnp.maximum(state.machine_until - t, 0.0), 0.0)
        busy = state.busy_time - in_process
        return {
            "time": t,
            "total_cost": cost,
            "lots_finished": n_done.astype(jnp.int32),
            "wip": jnp.sum((state.status == QUEUED) | (state.status == PROCESSING)).astype(jnp.int32),
            "throughput": n_done / elapsed,
            "mean_cycle_time": jnp.sum(cycle) / denom,
            "mean_tardiness": jnp.sum(late) / denom,
            "tardy_fraction": jnp.sum(late > 0) / denom,
            "utilisation": jnp.sum(busy) / (self.num_machines * elapsed),
        }
