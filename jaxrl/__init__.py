"""jaxrl: JAX-native reinforcement learning.

```python
import envs
from jaxrl.algos import ppo
from jaxrl import train

env, env_params = envs.make("CartPole-v1")
agent = ppo.make(env, env_params, ppo.PPOConfig())
state, metrics = jax.jit(train(agent, num_iterations=100))(jax.random.PRNGKey(0))
```
"""

from jaxrl import native

native.install()  # jax.random's hash as one native call on CPU: same bits, faster compiles

from jaxrl.agent import Agent
from jaxrl.evaluation import evaluate
from jaxrl.returns import discounted_returns, gae, td_errors
from jaxrl.train import enable_compilation_cache, restore, run, train

__version__ = "0.1.0"

__all__ = [
    "Agent", "evaluate", "gae", "td_errors", "discounted_returns", "train", "run", "restore",
    "enable_compilation_cache", "__version__",
]
