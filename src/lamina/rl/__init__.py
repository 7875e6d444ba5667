"""lamina.rl: deep reinforcement learning agents on Gymnasium environments.

    from lamina.rl import DQN, SAC
    agent = DQN("CartPole-v1", seed=0, verbose=1).learn(50_000)
    mean, std = agent.evaluate("CartPole-v1", episodes=100)
    agent.save("dqn.safetensors"); agent = lamina.rl.load_agent("dqn.safetensors")

Every agent follows :class:`lamina.rl.base.Agent` (learn / predict / evaluate / state_dict),
and ``get_algorithm(name)`` maps config names ("dqn", "sac", ...) to classes. Needs the
``gymnasium`` extra (``pip install 'lamina[rl]'``); ``import lamina`` does not import it.
"""
from .base import (ALGORITHMS, Agent, Callback, CallbackList, EpisodeStats, EvalCallback, ProgressPrinter,
                   StopAtStep, array_forward, get_algorithm)
from .checkpoint import CheckpointCallback, load_agent, load_agent_state, save_agent
from .dqn import DQN, QNetwork, double_dqn_target, dqn_target
from .envs import check_action_space, check_env_id, make_env, make_vec_env
from .replay import PrioritizedReplayBuffer, ReplayBuffer
from .sac import SAC, temperature_loss
from .wrappers import NormalizeObservation, NormalizeReward, RunningMeanStd
from .a2c import A2C, a2c_loss
from .gae import compute_gae, discounted_returns
from .policies import ActorCritic
from .ppo import PPO, ppo_loss
from .reinforce import REINFORCE
from .rollout import OnPolicyAgent, RolloutBuffer

__all__ = ["ALGORITHMS", "Agent", "Callback", "CallbackList", "CheckpointCallback", "DQN", "EpisodeStats",
           "EvalCallback", "NormalizeObservation", "NormalizeReward", "PrioritizedReplayBuffer", "ProgressPrinter",
           "QNetwork", "ReplayBuffer", "RunningMeanStd", "SAC", "StopAtStep", "array_forward",
           "check_action_space", "check_env_id", "double_dqn_target", "dqn_target", "get_algorithm",
           "load_agent", "load_agent_state", "make_env", "make_vec_env", "save_agent", "temperature_loss",
           "A2C", "ActorCritic", "OnPolicyAgent", "PPO", "REINFORCE", "RolloutBuffer", "a2c_loss", "compute_gae",
           "discounted_returns", "ppo_loss"]
