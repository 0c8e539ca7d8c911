"""Control flow that stays cheap under `vmap` (vmapped seeds, hyperparameter grids)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def run_if(pred, true_fn, false_fn, *operands):
    """`jax.lax.cond(pred, true_fn, false_fn, *operands)` that still skips `true_fn` under
    `vmap`, where a batched predicate turns a plain cond into a select that runs both
    branches every time.

    Batched, `true_fn` runs once over the whole batch (its results kept where `pred` holds,
    `false_fn`'s elsewhere) if any element's predicate holds, and not at all if none does.
    `false_fn` should be cheap: under `vmap` it runs every time."""

    @jax.custom_batching.custom_vmap
    def branch(pred, operands):
        return jax.lax.cond(pred, true_fn, false_fn, *operands)

    @branch.def_vmap
    def branch_batched(axis_size, in_batched, pred, operands):
        pred_batched, operands_batched = in_batched
        if not pred_batched:  # the same branch for every element: an ordinary cond
            pred = jnp.broadcast_to(pred, (axis_size,))
        in_axes = jax.tree.map(lambda batched: 0 if batched else None, operands_batched)

        def each(fn):
            return lambda *ops: jax.vmap(fn, in_axes=tuple(in_axes))(*ops)

        def where_ready(pred, *ops):
            taken, skipped = each(true_fn)(*ops), each(false_fn)(*ops)
            return jax.tree.map(lambda a, b: jnp.where(pred.reshape((-1,) + (1,) * (a.ndim - 1)), a, b),
                                taken, skipped)

        # `jnp.any` over the batch is one predicate for all: nested in another `vmap`, it is
        # batched there and this rule applies again at that level (so `pred` goes in as an
        # operand: a rule may not close over a batched value).
        out = run_if(jnp.any(pred), where_ready, lambda pred, *ops: each(false_fn)(*ops), pred, *operands)
        return out, jax.tree.map(lambda _: True, out)

    return branch(pred, operands)
