"""``lamina federate``: the run directory (per-round global metrics, the final model that evaluate and
predict load), DP's epsilon per round, and bad arguments refused before anything is written."""
from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest

pytest.importorskip("flwr", reason="Flower is not installed: pip install 'lamina[federated]'")
pytest.importorskip("sklearn", reason="the digits dataset needs scikit-learn")

from lamina.cli.main import main  # noqa: E402
from lamina.federated import privacy  # noqa: E402

SMALL = """
[model]
name = "mlp"
hidden_sizes = [32]

[data]
name = "digits"
batch_size = 32
standardize = true

[optimizer]
name = "adam"
lr = 0.01

[metrics]
names = ["accuracy"]
"""


def lamina(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("fedcfg") / "small.toml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def fed_run(config, tmp_path_factory):
    run = tmp_path_factory.mktemp("fedrun") / "run"
    code, out, err = lamina("federate", config, "--clients", 4, "--rounds", 3, "--alpha", 0.5, "--engine",
                            "inprocess", "--local-epochs", 2, "--run-dir", run)
    assert code == 0, err
    return run, out


def test_federate_writes_rounds_and_a_model_that_evaluate_and_predict_load(fed_run, tmp_path):
    run, out = fed_run
    assert "round 3/3" in out and "global model after 3 rounds" in out
    for name in ("config.toml", "preprocess.safetensors", "checkpoints/last.safetensors", "rounds.csv",
                 "rounds.json", "federated.json", "test_metrics.json"):
        assert (run / name).is_file(), name
    rows = list(csv.DictReader(open(run / "rounds.csv")))
    assert [int(r["round"]) for r in rows] == [0, 1, 2, 3]
    assert json.loads((run / "rounds.json").read_text())[3]["accuracy"] == pytest.approx(float(rows[3]["accuracy"]))
    acc = [float(r["accuracy"]) for r in rows]
    assert acc[-1] > 0.8 and acc[-1] > acc[0] + 0.5
    assert rows[0]["train_loss"] == "" and float(rows[1]["train_loss"]) > 0 and rows[1]["clients"] == "4"
    fed = json.loads((run / "federated.json").read_text())
    assert fed["clients"] == 4 and fed["split"] == "dirichlet" and fed["alpha"] == 0.5 and fed["privacy"] is None
    counts = np.array(fed["client_label_counts"])
    assert counts.shape == (4, 10) and counts.sum() == sum(fed["client_sizes"])
    assert fed["final"]["accuracy"] == pytest.approx(acc[-1])
    # lamina evaluate / predict use the final global model
    code, out, err = lamina("evaluate", run, "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["accuracy"] == pytest.approx(acc[-1])
    from sklearn.datasets import load_digits
    np.save(tmp_path / "x.npy", load_digits().data[:5])
    code, out, err = lamina("predict", run, tmp_path / "x.npy", "--json")
    assert code == 0, err
    assert len(json.loads(out)["predictions"]) == 5


def test_federate_with_dp_records_epsilon_per_round(config, tmp_path):
    run = tmp_path / "dp"
    code, out, err = lamina("federate", config, "--clients", 3, "--rounds", 2, "--fraction", 0.67, "--engine",
                            "inprocess", "--dp-clip", 1.0, "--dp-noise", 0.8, "--strategy", "fedprox", "--mu", 0.1,
                            "--run-dir", run, "-q")
    assert code == 0, err
    assert out == ""
    rows = json.loads((run / "rounds.json").read_text())
    q = 2 / 3  # int(3 * 0.67) = 2 clients per round
    assert [r["clients"] for r in rows[1:]] == [2, 2]
    for r in rows:
        assert r["epsilon"] == pytest.approx(privacy.epsilon(0.8, q, r["round"], 1e-5)[0])
    fed = json.loads((run / "federated.json").read_text())
    assert fed["strategy"] == "fedprox" and fed["proximal_mu"] == 0.1
    assert fed["privacy"]["epsilon"] == pytest.approx(rows[-1]["epsilon"]) and fed["privacy"]["sample_rate"] == q
    assert 0 < rows[-1]["epsilon"] < rows[1]["epsilon"] * 2 + 1e-9


@pytest.mark.parametrize("args, message", [
    (["--dp-clip", "1.0"], "both --dp-clip"),
    (["--mu", "0.1"], "--strategy fedprox"),
    (["--alpha", "0"], "--alpha"),
    (["--clients", "0"], "--clients"),
    (["--fraction", "1.5"], "--fraction"),
    (["--clients", "5000"], "training split has only"),
    (["--set", "optimizer.lr=-1"], "optimizer"),
])
def test_federate_refuses_bad_arguments_before_writing(config, tmp_path, args, message):
    run = tmp_path / "bad"
    code, out, err = lamina("federate", config, "--engine", "inprocess", "--run-dir", run, *args)
    assert code == 2 and message in err, err
    assert not run.exists()


def test_federate_refuses_a_used_run_directory(fed_run, config):
    run, _ = fed_run
    code, _, err = lamina("federate", config, "--engine", "inprocess", "--run-dir", run)
    assert code == 2 and "already exists" in err


def test_federate_help_names_the_engines():
    code, out, _ = lamina("federate", "--help")
    assert code == 0 and "--engine" in out and "127.0.0.1" in out and "--dp-noise" in out
