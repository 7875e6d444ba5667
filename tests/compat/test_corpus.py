"""The compat corpus: PyTorch training scripts in tests/compat/scripts/, each run unchanged twice —
with PyTorch and with lamina through ``lamina.compat.as_torch()`` — from the same weights and
the same random draws (tests/compat/harness.py). Both must finish, record the same number of
losses, and their loss trajectories must follow each other within the stated tolerances.

Tolerances, per script: ``early`` for the first ``n_early`` losses (where float32 rounding has
not yet compounded) and ``all`` for the whole run, both relative (|lamina - torch| / max(|torch|,
``floor``)). Deterministic scripts get tight ones; a script whose framework draws random numbers
inside its own kernels (dropout inside nn.LSTM or nn.MultiheadAttention), or whose training is
chaotic (a GAN, RL with sampled actions), gets looser ones, and says why.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of the compat corpus (pip install -e '.[parity]')")
pytest.importorskip("sklearn", reason="the corpus uses scikit-learn's bundled datasets")

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "scripts")
HARNESS = os.path.join(HERE, "harness.py")

# script: (quick arguments, n_early, early rtol, all rtol, floor, why the tolerance is what it is)
CORPUS = {
    "regression.py": ([], 50, 1e-5, 1e-3, 1e-6, "deterministic float32 gradient descent (300 steps)"),
    "time_sequence_prediction.py": (["--steps", "2"], 10, 1e-9, 1e-6, 1e-9, "float64 LSTMCells + L-BFGS"),
    "char_rnn_classification.py": (["--iters", "300"], 50, 1e-4, 1e-3, 1e-6, "deterministic RNN, hand-written SGD"),
    "text_classification.py": (["--epochs", "2"], 10, 1e-4, 1e-2, 1e-6, "EmbeddingBag + SGD lr 5 with clipping"),
    "mnist_cnn.py": (["--epochs", "2"], 10, 1e-4, 1e-2, 1e-6, "CNN + dropout (shared draws) + Adadelta"),
    "vae.py": (["--epochs", "2"], 10, 1e-4, 1e-2, 1e-6, "VAE; the reparameterisation draws are shared"),
    "siamese.py": (["--epochs", "1"], 10, 1e-4, 1e-2, 1e-6, "BatchNorm CNN twin + Adadelta"),
    "diabetes_regression.py": (["--epochs", "8"], 10, 1e-4, 1e-2, 1e-6, "MLP + BatchNorm + dropout + SGD momentum"),
    "word_language_model.py": (["--epochs", "1", "--dropout", "0", "--max-words", "3000"], 10, 1e-4, 1e-2, 1e-6,
                               "2-layer LSTM LM; dropout off because nn.LSTM draws its own inter-layer masks"),
    "transformer_classifier.py": (["--steps", "20"], 1, 0.05, 0.5, 1e-3,
                                  "nn.MultiheadAttention draws its own attention-dropout masks (p=0.1): "
                                  "the runs see different masks"),
    "dcgan.py": (["--niter", "1"], 6, 1e-3, 0.2, 1e-3, "GAN: two players amplify float32 differences"),
    "reinforce.py": (["--episodes", "10"], 3, 1e-3, 0.05, 1e-3,
                     "sampled actions are shared; a rounding difference can flip one late in a run"),
    "actor_critic.py": (["--episodes", "10"], 3, 1e-3, 0.05, 1e-3,
                        "sampled actions are shared; a rounding difference can flip one late in a run"),
}


def _run(framework: str, script: str, args: list, out: str, init: str) -> dict:
    flag = "--save-init" if framework == "torch" else "--load-init"
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, HARNESS, framework, os.path.join(SCRIPTS, script), out, flag, init,
                           "--", *args], capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        pytest.fail(f"{script} failed under {framework} (exit {proc.returncode}):\n{tail}")
    with open(out) as f:
        return json.load(f)


@pytest.mark.parametrize("script", sorted(CORPUS))
def test_script_runs_unchanged_and_follows_pytorch(script, tmp_path):
    args, n_early, early_rtol, all_rtol, floor, _why = CORPUS[script]
    init = str(tmp_path / "init.npz")
    ref = _run("torch", script, args, str(tmp_path / "torch.json"), init)
    got = _run("lamina", script, args, str(tmp_path / "lamina.json"), init)
    assert ref["losses"], f"{script}: the PyTorch run recorded no loss"
    assert got["optimizers"] == ref["optimizers"] and got["syncs"] == ref["syncs"]
    assert len(got["losses"]) == len(ref["losses"]), (
        f"{script}: lamina backpropagated {len(got['losses'])} losses, PyTorch {len(ref['losses'])}")
    a, b = np.asarray(got["losses"]), np.asarray(ref["losses"])
    assert np.all(np.isfinite(a)), f"{script}: lamina produced a non-finite loss"
    rel = np.abs(a - b) / np.maximum(np.abs(b), floor)
    worst_early = float(rel[:n_early].max())
    assert worst_early <= early_rtol, (
        f"{script}: the first {n_early} losses differ by up to {worst_early:.2e} (allowed {early_rtol:.0e}); "
        f"lamina {a[:5]}, torch {b[:5]}")
    worst = float(rel.max())
    assert worst <= all_rtol, (
        f"{script}: losses differ by up to {worst:.2e} at step {int(rel.argmax())} of {len(b)} "
        f"(allowed {all_rtol:.0e})")


def test_corpus_covers_the_families():
    """Vision, text, generative, RL and regression scripts, at least ten of them."""
    assert len(CORPUS) >= 10
    assert {s for s in os.listdir(SCRIPTS) if s.endswith(".py") and s != "cartpole.py"} == set(CORPUS)
