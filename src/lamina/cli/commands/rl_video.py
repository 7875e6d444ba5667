"""``lamina rl-video RUN OUT.gif``: record one episode of an RL run's deterministic policy as a GIF."""
from __future__ import annotations

from ..errors import ConfigError

HELP = "record one episode of an RL run's agent as a GIF (rgb_array frames)"
DESCRIPTION = """\
Record one episode of a lamina rl run's agent (its best checkpoint, else the last, or the given
checkpoint file), acting with its deterministic policy, from the environment's rgb_array frames;
Pillow writes the GIF. The same as lamina evaluate RUN --video OUT.gif without the evaluation.

examples:
  lamina rl-video runs/ppo_cartpole cartpole.gif
  lamina rl-video runs/sac_pendulum/checkpoints/last.safetensors pendulum.gif --seed 3
"""


def configure(p) -> None:
    p.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT", help="an RL run directory or an agent checkpoint in one")
    p.add_argument("out", metavar="OUT.gif", help="the GIF to write")
    p.add_argument("--seed", type=int, default=10_000, help="the episode's reset seed (default 10000)")
    p.add_argument("--max-frames", dest="max_frames", type=int, default=1000, metavar="N",
                   help="stop after N frames (default 1000)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the environment's)")


def run(args) -> int:
    from .rl import is_rl_run, load_run_agent, record_video
    if not args.out.lower().endswith(".gif"):
        raise ConfigError(f"rl-video writes a GIF: give a path ending in .gif, got {args.out}")
    if args.max_frames < 2 or (args.fps is not None and args.fps < 1):
        raise ConfigError("--max-frames must be at least 2 and --fps at least 1")
    if not is_rl_run(args.target):
        raise ConfigError(f"{args.target} is not a run directory or checkpoint written by lamina rl")
    agent, cfg, _, ckpt = load_run_agent(args.target)
    try:
        v = record_video(agent, cfg["env"]["id"], args.out, seed=args.seed, env_kwargs=cfg["env"]["kwargs"],
                         max_frames=args.max_frames, fps=args.fps)
    finally:
        agent.close()
    print(f"{args.out}: one episode of {cfg['env']['id']} ({v['steps']} steps, return {v['return']:.2f}, "
          f"{v['fps']} fps) from {ckpt}")
    return 0
