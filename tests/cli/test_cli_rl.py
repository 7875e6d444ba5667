"""``lamina rl``: tiny runs, exact resume, evaluate/video, report, the configs and bad input."""
from __future__ import annotations

import csv
import json
import os
import shutil

import numpy as np
import pytest

pytest.importorskip("gymnasium")

from conftest import CONFIGS, fingerprint, run_quiet

from lamina import io
from lamina.cli import rl_config
from lamina.cli.errors import ConfigError

TINY = """
[env]
id = "CartPole-v1"

[algorithm]
name = "dqn"
hidden = [16]
learning_starts = 100
train_freq = 8
gradient_steps = 4
buffer_size = 200
target_update_interval = 40
batch_size = 16
exploration_fraction = 0.5

[rl]
total_steps = 300
seed = 3
log_interval = 50
eval_every = 100
eval_episodes = 2
checkpoint_every = 100
final_eval_episodes = 2
"""
RL_CONFIGS = ["dqn_cartpole", "ppo_cartpole", "a2c_cartpole", "ppo_pendulum", "sac_pendulum", "ppo_lunarlander"]


def _box2d() -> bool:
    try:
        import Box2D  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """TINY trained uninterrupted (300 steps); copy it before changing it."""
    base = tmp_path_factory.mktemp("rl")
    cfg = base / "tiny.toml"
    cfg.write_text(TINY)
    code, out, err = run_quiet("rl", cfg, "--run-dir", base / "full")
    assert code == 0, err
    return {"dir": base / "full", "config": cfg, "out": out, "base": base}


def _rows(path) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _flat(state, prefix=""):
    """{dotted key: leaf} of a nested state dict."""
    out = {}
    if isinstance(state, dict):
        for k, v in state.items():
            out.update(_flat(v, f"{prefix}{k}."))
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            out.update(_flat(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = state
    return out


# ---------------------------------------------------------------- training
def test_run_directory_and_progress_line(tiny_run):
    d, out = tiny_run["dir"], tiny_run["out"]
    for name in ("config.toml", "progress.csv", "evaluations.csv", "history.json", "summary.json",
                 "checkpoints/last.safetensors", "checkpoints/best.safetensors"):
        assert (d / name).is_file(), name
    lines = [ln for ln in out.splitlines() if "steps/s" in ln]
    assert len(lines) == 300 // 50 and "return" in lines[-1] and "length" in lines[-1]
    progress = _rows(d / "progress.csv")
    assert [int(r["steps"]) for r in progress] == [50, 100, 150, 200, 250, 300]
    assert {"steps_per_s", "ep_return_mean", "ep_length_mean", "loss", "epsilon"} <= set(progress[0])
    evals = _rows(d / "evaluations.csv")
    assert [int(r["steps"]) for r in evals] == [100, 200, 300]
    summary = json.loads((d / "summary.json").read_text())
    assert summary["steps"] == 300 and summary["final_eval_episodes"] == 2
    assert summary["best_eval_return"] == max(float(r["eval_return_mean"]) for r in evals)
    hist = json.loads((d / "history.json").read_text())
    assert len(hist["progress"]) == 6 and len(hist["evaluations"]) == 3
    # the resolved config validates again, and the checkpoint is a whole agent at step 300
    assert rl_config.validate(rl_config.load_config(d / "config.toml"))["rl"]["total_steps"] == 300
    assert io.read_metadata(d / "checkpoints" / "last.safetensors")["num_timesteps"] == "300"


def test_killed_run_resumes_bitwise_identical(tiny_run, monkeypatch):
    from lamina.rl import base
    run_dir = tiny_run["base"] / "killed"
    orig = base.Agent._after_step

    def killed_at_170(self, *a, **k):   # a kill between the checkpoints at 100 and 200
        go = orig(self, *a, **k)
        if self.num_timesteps >= 170:
            raise KeyboardInterrupt
        return go

    monkeypatch.setattr(base.Agent, "_after_step", killed_at_170)
    code, _, err = run_quiet("rl", tiny_run["config"], "--run-dir", run_dir, "-q")
    assert code == 130 and "--resume" in err
    last = run_dir / "checkpoints" / "last.safetensors"
    assert io.read_metadata(last)["num_timesteps"] == "100"
    assert int(_rows(run_dir / "progress.csv")[-1]["steps"]) == 150   # written after the checkpoint
    monkeypatch.setattr(base.Agent, "_after_step", orig)
    np.random.seed(12345)  # the resumed process starts from other global generator states
    code, out, err = run_quiet("rl", run_dir, "--resume")
    assert code == 0, err
    assert "resuming at step 100" in out

    full = _flat(io.load(tiny_run["dir"] / "checkpoints" / "last.safetensors"))
    resumed = _flat(io.load(last))
    assert set(full) == set(resumed)
    for key, a in full.items():
        b = resumed[key]
        if hasattr(a, "shape"):
            a, b = np.asarray(getattr(a, "array", a)), np.asarray(getattr(b, "array", b))
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), key
        else:
            assert a == b, key
    # the history continues where the checkpoint was: no rows of the killed run after step 100 twice
    drop = ("time_s", "steps_per_s")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in drop} for r in rows]  # noqa: E731
    assert strip(_rows(run_dir / "progress.csv")) == strip(_rows(tiny_run["dir"] / "progress.csv"))
    assert _rows(run_dir / "evaluations.csv") == _rows(tiny_run["dir"] / "evaluations.csv")
    # a finished run has nothing left to do
    code, out, _ = run_quiet("rl", run_dir, "--resume")
    assert code == 0 and "nothing to do" in out


# ---------------------------------------------------------------- evaluate, video, report
def test_evaluate_deterministic_policy(tiny_run):
    code, out, err = run_quiet("evaluate", tiny_run["dir"], "--episodes", 4, "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["episodes"] == 4 and r["deterministic"] and r["env"] == "CartPole-v1"
    assert r["checkpoint"].endswith("best.safetensors")
    assert r["return_min"] <= r["return_mean"] <= r["return_max"] and r["return_std"] >= 0
    assert r["return_min"] >= 1 and r["return_max"] <= 500   # CartPole: +1 per step, at most 500
    code, out2, _ = run_quiet("evaluate", tiny_run["dir"], "--episodes", 4, "--json")
    again = json.loads(out2)
    assert (again["return_mean"], again["return_std"]) == (r["return_mean"], r["return_std"])


def test_video_gif(tiny_run, tmp_path):
    from PIL import Image
    gif = tmp_path / "episode.gif"
    code, out, err = run_quiet("evaluate", tiny_run["dir"], "--episodes", 1, "--video", gif)
    assert code == 0, err
    assert "video" in out
    with Image.open(gif) as im:
        frames, size = im.n_frames, im.size
    assert size == (600, 400) and frames >= 2   # CartPole's rgb_array frames: the reset one plus one per step
    code, out, err = run_quiet("rl-video", tiny_run["dir"], tmp_path / "again.gif")
    assert code == 0, err
    steps = int(out.split("(")[1].split()[0])
    assert 2 <= frames <= steps + 1   # the reset frame and one per step (Pillow merges identical neighbours)


def test_report_plots_return_against_steps(tiny_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run["dir"], run_dir)
    code, out, err = run_quiet("report", run_dir)
    assert code == 0, err
    report = run_dir / "report"
    assert (report / "return.png").stat().st_size > 1000 and (report / "length.png").is_file()
    html = (report / "index.html").read_text()
    assert "return.png" in html and "evaluation return" in html


# ---------------------------------------------------------------- the configs
@pytest.mark.parametrize("name", RL_CONFIGS)
def test_configs_validate(name):
    raw = rl_config.load_config(os.path.join(CONFIGS, f"{name}.toml"))
    cfg = rl_config.validate(raw, check_env=False)
    assert cfg["algorithm"]["name"] == name.split("_")[0] and cfg["rl"]["total_steps"] >= 20_000
    if name == "ppo_lunarlander" and not _box2d():
        pytest.skip("LunarLander-v3 needs Box2D (pip install 'gymnasium[box2d]'), which is not installed")
    assert rl_config.validate(raw)["env"]["id"] == raw["env"]["id"]


@pytest.mark.skipif(_box2d(), reason="Box2D is installed: LunarLander-v3 can be made")
def test_lunarlander_without_box2d_exits_2_with_the_reason(tmp_path):
    code, out, err = run_quiet("rl", os.path.join(CONFIGS, "ppo_lunarlander.toml"), "--run-dir", tmp_path / "r")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Box2D" in err and "gymnasium[box2d]" in err
    assert not (tmp_path / "r").exists()


TINY_SETS = {
    "ppo_cartpole": ["rl.total_steps=64", "algorithm.n_steps=4", "algorithm.batch_size=16", "algorithm.n_epochs=2",
                     "env.n_envs=4", "rl.tensorboard=true"],
    "a2c_cartpole": ["rl.total_steps=64", "env.n_envs=2"],
    "ppo_pendulum": ["rl.total_steps=64", "algorithm.n_steps=16", "algorithm.batch_size=32", "algorithm.n_epochs=1",
                     "env.n_envs=2"],
    "sac_pendulum": ["rl.total_steps=60", "algorithm.learning_starts=40", "algorithm.batch_size=16",
                     "algorithm.hidden=[8]"],
}


@pytest.mark.parametrize("name", sorted(TINY_SETS))
def test_shipped_configs_train_a_few_steps(name, tmp_path):
    # the shipped configs stop at an evaluation threshold, which needs evaluations: train a copy without it
    text = open(os.path.join(CONFIGS, f"{name}.toml")).read()
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text("\n".join(ln for ln in text.splitlines()
                             if not ln.startswith(("eval_threshold", "eval_confirm_episodes"))) + "\n")
    sets = TINY_SETS[name] + ["rl.eval_every=0", "rl.final_eval_episodes=1", "rl.log_interval=16"]
    args = ["rl", cfg, "--run-dir", tmp_path / "r", "-q"]
    for s in sets:
        args += ["--set", s]
    code, _, err = run_quiet(*args)
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["steps"] >= int(sets[0].split("=")[1]) and summary["final_eval_episodes"] == 1
    assert len(_rows(tmp_path / "r" / "progress.csv")) >= 3
    if "rl.tensorboard=true" in sets:
        assert any(f.startswith("events.") for f in os.listdir(tmp_path / "r" / "tensorboard"))


# ---------------------------------------------------------------- bad input: one line, exit 2, nothing written
BAD = [
    ({"env": {"id": "CartPol-v1"}}, ["unknown environment id 'CartPol-v1'", "'CartPole-v1'"]),
    ({"algorithm": {"name": "sac"}}, ["SAC needs continuous actions", "CartPole-v1 has discrete actions"]),
    ({"env": {"id": "Pendulum-v1"}}, ["DQN needs discrete actions", "Pendulum-v1 has continuous actions"]),
    ({"algorithm": {"name": "dqn", "learning_rat": 0.01}}, ["unknown key 'learning_rat'",
                                                            "did you mean algorithm.learning_rate?"]),
    ({"rl": {"total_step": 10}}, ["unknown key 'total_step'", "did you mean rl.total_steps?"]),
    ({"rl": {}}, ["rl.total_steps is required"]),
    ({"algorithm": {"name": "dqm"}}, ["unknown RL algorithm 'dqm'", "did you mean 'dqn'?"]),
    ({"algorithm": {"name": "ppo", "policy_kwargs": {"hiden": [8]}}}, ["did you mean algorithm.policy_kwargs.hidden?"]),
    ({"enviroment": {}}, ["unknown section [enviroment]", "did you mean [env]?"]),
    ({"rl": {"total_steps": 10, "eval_every": -1}}, ["rl.eval_every must be a non-negative integer"]),
    ({"algorithm": {"name": "dqn", "tau": 2.0}}, ["tau must be in (0, 1]"]),
]


@pytest.mark.parametrize("change,expected", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_exits_2_with_one_line(change, expected, tmp_path):
    base = {"env": {"id": "CartPole-v1"}, "algorithm": {"name": "dqn"}, "rl": {"total_steps": 10}}
    for section, table in change.items():
        base[section] = table if section in ("algorithm", "rl") or section not in base else {**base[section], **table}
    from lamina.cli import tomlio
    cfg = tmp_path / "bad.toml"
    cfg.write_text(tomlio.dumps(base))
    code, out, err = run_quiet("rl", cfg, "--run-dir", tmp_path / "r")
    assert code == 2, err
    assert err.startswith("lamina: error: ") and err.count("\n") == 1, err
    for piece in expected:
        assert piece in err, err
    assert not (tmp_path / "r").exists()


def test_resume_with_another_agent_is_refused_and_writes_nothing(tiny_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run["dir"], run_dir)
    before = fingerprint(run_dir)
    code, _, err = run_quiet("rl", run_dir, "--resume", "--set", "algorithm.hidden=[32]",
                             "--set", "rl.total_steps=400")
    assert code == 2 and "algorithm.hidden" in err and "new run" in err
    code, _, err = run_quiet("rl", tiny_run["config"], "--run-dir", run_dir)
    assert code == 2 and "already exists" in err
    code, _, err = run_quiet("evaluate", run_dir, "--episodes", 0)
    assert code == 2 and "--episodes must be a positive integer" in err
    code, _, err = run_quiet("evaluate", run_dir, "--data", tiny_run["config"])
    assert code == 2 and "--data is for supervised runs" in err
    (run_dir / "checkpoints" / "best.safetensors").write_bytes(b"not a checkpoint")
    before = fingerprint(run_dir)
    code, _, err = run_quiet("evaluate", run_dir)
    assert code == 2 and "best.safetensors" in err and err.count("\n") == 1
    assert fingerprint(run_dir) == before


def test_validate_names_the_environment_error_directly():
    with pytest.raises(ConfigError, match="did you mean 'CartPole-v1'"):
        rl_config.validate({"env": {"id": "cartpole-v1x"}, "algorithm": {"name": "ppo"}, "rl": {"total_steps": 1}})


def test_lamina_train_hands_an_rl_config_to_lamina_rl(tmp_path):
    """`lamina train CONFIG` with an [rl] config is `lamina rl CONFIG` (here only --check)."""
    import subprocess
    import sys
    cfg = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "ppo_cartpole.toml")
    out = subprocess.run([sys.executable, "-m", "lamina", "train", cfg, "--check", "--run-dir", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "r").exists()
