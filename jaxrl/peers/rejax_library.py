"""rejax's trained agents under our evaluation protocol, for the rejax peer scripts beside
it (imported in rejax's own virtual environment; nothing from jaxrl)."""

from jax_peer_library import greedy_returns

# The packages whose versions the rejax scripts' JSON lines report.
REJAX_VERSIONS = ("rejax", "jax", "flax", "gymnax")


def rejax_returns(algo_name: str, algo, train_state, key, episodes: int = 10):
    """Returns `(episodes,)` of the deterministic action of a trained rejax agent: the argmax
    of the policy's logits (PPO) or of the Q-values (DQN, PQN), on rejax's own env."""
    if algo_name == "ppo":
        def scores(obs):
            return algo.actor.apply(train_state.actor_ts.params, obs,
                                    method=lambda m, o: m.action_logits(m.features(o)))
    else:
        def scores(obs):
            return algo.agent.apply(train_state.q_ts.params, obs)
    return greedy_returns(algo.env, algo.env_params, scores, key, episodes)
