"""Rendering one episode of a trained policy: GIFs for the gymnax envs that have a picture
(CartPole, Pendulum, Acrobot, MountainCar, MinAtar) and an HTML viewer for Brax envs.

Frames are drawn on the host with Pillow from the env states of a jitted rollout, so the
rollout itself stays pure and fast; no gym/pygame is needed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import jax
import numpy as np

GIF_SIZE = (300, 200)


def rollout(agent, policy_params, key, deterministic: bool = True, max_steps: int | None = None):
    """One episode from one env (jitted scan over the time limit). Returns host copies of
    `(states, observations, length, return)`: `states`/`observations` are stacked along
    time and cut at the episode's end (before the auto-reset)."""
    env, env_params = agent.env, agent.env_params
    limit = max_steps or int(env.max_episode_steps(env_params))

    def program(params, key):
        reset_key, key = jax.random.split(key)
        obs, state = env.reset(reset_key, env_params)
        hidden = None
        if agent.recurrent:
            _, hidden = agent.act(params, obs, key, deterministic, None, True)
            hidden = jax.tree.map(lambda h: h * 0, hidden)

        def step(carry, t):
            obs, state, key, done, ret, hidden = carry
            key, act_key, env_key = jax.random.split(key, 3)
            if agent.recurrent:
                action, hidden = agent.act(params, obs, act_key, deterministic, hidden, t == 0)
            else:
                action = agent.act(params, obs, act_key, deterministic)
            next_obs, next_state, reward, terminated, truncated, _ = env.step(env_key, state, action, env_params)
            ret = ret + jax.numpy.where(done, 0.0, reward)
            out = (state, obs, done)
            done = done | terminated | truncated
            return (next_obs, next_state, key, done, ret, hidden), out

        init = (obs, state, key, jax.numpy.zeros((), bool), jax.numpy.zeros(()), hidden)
        (_, _, _, _, ret, _), (states, observations, done) = jax.lax.scan(
            step, init, jax.numpy.arange(limit))
        return states, observations, done, ret

    states, observations, done, ret = jax.device_get(jax.jit(program)(policy_params, key))
    length = int(np.argmax(done)) if done.any() else limit
    cut = lambda x: x[:length]  # noqa: E731
    return jax.tree.map(cut, states), cut(observations), length, float(ret)


def _innermost(state):
    """Unwrap wrapper states (EpisodeStatistics, ...) down to the base env's state."""
    while hasattr(state, "env_state"):
        state = state.env_state
    return state


def _base_name(env) -> str:
    return getattr(env.unwrapped, "name", getattr(env, "name", ""))


def _canvas():
    from PIL import Image, ImageDraw

    image = Image.new("RGB", GIF_SIZE, (255, 255, 255))
    return image, ImageDraw.Draw(image)


def _cartpole(s, t):
    image, draw = _canvas()
    w, h = GIF_SIZE
    scale = w / 4.8
    x = w / 2 + float(s.x[t]) * scale
    ground = h * 0.75
    draw.line([(0, ground), (w, ground)], fill=(0, 0, 0))
    draw.rectangle([x - 20, ground - 12, x + 20, ground + 3], fill=(60, 60, 60))
    theta = float(s.theta[t])
    length = 1.0 * scale
    tip = (x + length * math.sin(theta), ground - 12 - length * math.cos(theta))
    draw.line([(x, ground - 12), tip], fill=(202, 152, 101), width=7)
    return image


def _pendulum(s, t):
    image, draw = _canvas()
    w, h = GIF_SIZE
    c = (w / 2, h / 2)
    theta = float(s.theta[t])
    r = h * 0.4
    tip = (c[0] + r * math.sin(theta), c[1] - r * math.cos(theta))
    draw.line([c, tip], fill=(204, 77, 77), width=9)
    draw.ellipse([c[0] - 4, c[1] - 4, c[0] + 4, c[1] + 4], fill=(0, 0, 0))
    return image


def _acrobot(s, t):
    image, draw = _canvas()
    w, h = GIF_SIZE
    c = (w / 2, h / 2)
    r = h * 0.22
    a1, a2 = float(s.joint_angle1[t]), float(s.joint_angle2[t])
    p1 = (c[0] + r * math.sin(a1), c[1] + r * math.cos(a1))
    p2 = (p1[0] + r * math.sin(a1 + a2), p1[1] + r * math.cos(a1 + a2))
    draw.line([(0, c[1] - r), (w, c[1] - r)], fill=(0, 0, 0))  # the height to reach: one link above
    draw.line([c, p1], fill=(0, 204, 204), width=7)
    draw.line([p1, p2], fill=(0, 204, 204), width=7)
    draw.ellipse([c[0] - 4, c[1] - 4, c[0] + 4, c[1] + 4], fill=(204, 204, 0))
    return image


def _mountain_car(s, t):
    image, draw = _canvas()
    w, h = GIF_SIZE
    xs = np.linspace(-1.2, 0.6, 100)
    to_px = lambda x, y: ((x + 1.2) / 1.8 * w, h - (y * 0.45 + 0.55) * h * 0.8)  # noqa: E731
    draw.line([to_px(x, math.sin(3 * x)) for x in xs], fill=(0, 0, 0), width=2)
    pos = float(s.position[t])
    cx, cy = to_px(pos, math.sin(3 * pos))
    draw.ellipse([cx - 8, cy - 16, cx + 8, cy], fill=(200, 50, 50))
    fx, fy = to_px(0.5, math.sin(1.5))
    draw.line([(fx, fy), (fx, fy - 25)], fill=(0, 150, 0), width=2)
    return image


def _grid(obs):
    """MinAtar-style image observation `(H, W, C)`: one colour per channel, upscaled."""
    from PIL import Image

    obs = np.asarray(obs)
    channels = obs.shape[-1]
    palette = (np.array([[(37 * i * 7) % 255, (91 + 53 * i) % 255, (200 - 41 * i) % 255]
                         for i in range(channels)], np.float32))
    rgb = np.full(obs.shape[:2] + (3,), 255.0)
    for c in range(channels):
        rgb = np.where(obs[..., c:c + 1] > 0, palette[c], rgb)
    image = Image.fromarray(rgb.astype(np.uint8))
    return image.resize((obs.shape[1] * 20, obs.shape[0] * 20), Image.NEAREST)


_DRAW = {"CartPole-v1": _cartpole, "Pendulum-v1": _pendulum, "Acrobot-v1": _acrobot,
         "MountainCar-v0": _mountain_car, "MountainCarContinuous-v0": _mountain_car}


def can_render(env) -> bool:
    name = _base_name(env)
    return name in _DRAW or "MinAtar" in name or hasattr(env.unwrapped, "brax_env")


def frames(agent, states, observations) -> list:
    """PIL images of an episode (see `rollout`)."""
    name = _base_name(agent.env)
    length = len(observations)
    if "MinAtar" in name:
        return [_grid(observations[t]) for t in range(length)]
    if name not in _DRAW:
        raise ValueError(f"No renderer for {name!r}; GIFs are drawn for "
                         f"{', '.join(sorted(_DRAW))} and MinAtar envs, HTML for brax/* envs.")
    base = _innermost(states)
    return [_DRAW[name](base, t) for t in range(length)]


def save_gif(images, path, fps: int = 30) -> None:
    images[0].save(path, save_all=True, append_images=list(images[1:]),
                   duration=max(1, int(1000 / fps)), loop=0)


def render_episode(agent, policy_params, key, path, deterministic: bool = True,
                   max_steps: int | None = None, fps: int = 30) -> dict:
    """Roll out one episode and write it: a GIF (`.gif`) for gymnax envs, an HTML viewer for
    Brax envs (a `.gif` path is written next to it as `.html`). Returns
    `{"path", "frames", "return", "length"}`."""
    name = _base_name(agent.env)
    if not can_render(agent.env):
        raise ValueError(f"No renderer for {name!r}; rendering supports {', '.join(sorted(_DRAW))}, "
                         "MinAtar envs (GIF) and brax/* envs (HTML).")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    states, observations, length, ret = rollout(agent, policy_params, key, deterministic, max_steps)
    if hasattr(agent.env.unwrapped, "brax_env"):
        from brax.io import html

        brax_env = agent.env.unwrapped.brax_env
        base = _innermost(states)
        pipeline = base.brax_state.pipeline_state
        trajectory = [jax.tree.map(lambda x: x[t], pipeline) for t in range(length)]
        if path.suffix != ".html":
            path = path.with_suffix(".html")
        path.write_text(html.render(brax_env.sys, trajectory))
        return {"path": str(path), "frames": length, "return": ret, "length": length}
    if path.suffix.lower() != ".gif":
        raise ValueError(f"--render {path}: gymnax episodes are written as GIFs; use a .gif path.")
    images = frames(agent, states, observations)
    for t, image in enumerate(images):  # a time bar: also keeps GIF writers from merging frames
        from PIL import ImageDraw

        ImageDraw.Draw(image).rectangle([0, image.height - 3, int(image.width * (t + 1) / len(images)),
                                         image.height], fill=(120, 120, 120))
    save_gif(images, path, fps)
    return {"path": str(os.fspath(path)), "frames": len(images), "return": ret, "length": length}
