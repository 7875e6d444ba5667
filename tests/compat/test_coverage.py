"""The coverage measurement of lamina.compat: structure and a few known classifications
(the percentages are not asserted: other work changes them every day)."""
import json
import subprocess
import sys
import os

import pytest

torch = pytest.importorskip("torch")

from lamina.compat import coverage  # noqa: E402


@pytest.fixture(scope="module")
def report():
    return coverage.compute(torch)


def _ns(report, title):
    return next(e for e in report["namespaces"] if e["namespace"] == title)


def test_report_structure(report):
    assert report["torch_version"] == torch.__version__
    titles = [e["namespace"] for e in report["namespaces"]]
    for t in ("torch.Tensor methods", "torch functions", "torch.nn", "torch.nn.functional", "torch.optim",
              "torch.optim.lr_scheduler", "torch.distributions"):
        assert t in titles
    for e in report["namespaces"]:
        have, missing, refused = set(e["have"]), set(e["missing"]), set(e["refused"])
        aside = {n for c in e["set_aside"].values() for n in c["names"]}
        assert not (have & missing) and not (have & aside) and not (missing & aside) and not (refused & aside)
        assert e["considered"] == len(have) + len(missing)
        assert e["set_aside_count"] == len(aside)
        assert 0.0 <= e["percent"] <= 100.0
        for c in e["set_aside"].values():
            assert c["reason"] and c["names"]
    json.dumps(report)  # --json must be able to print it
    assert any("torch.save(model)" in r["what"] for r in report["refused_behaviours"])


def test_known_names_are_classified(report):
    t = _ns(report, "torch.Tensor methods")
    assert "add" in t["have"] and "backward" in t["have"] and "is_cuda" in t["have"]
    assert "q_scale" in t["set_aside"]["quantized"]["names"]
    assert "to_sparse" in t["set_aside"]["sparse"]["names"]
    assert "storage" in t["set_aside"]["storage and memory layout"]["names"]
    assert "apply_" in t["refused"] and "Python" in t["refused"]["apply_"]
    f = _ns(report, "torch functions")
    assert "matmul" in f["have"] and "quantize_per_tensor" in f["set_aside"]["quantized"]["names"]
    assert "compile" in f["refused"]
    assert "index_copy" not in f["set_aside"].get("copy variants of views", {"names": []})["names"]
    assert "permute_copy" in f["set_aside"]["copy variants of views"]["names"]
    assert "Linear" in _ns(report, "torch.nn")["have"] and "DataParallel" in _ns(report, "torch.nn")["have"]
    assert "Adam" in _ns(report, "torch.optim")["have"]
    assert "cross_entropy" in _ns(report, "torch.nn.functional")["have"]


def test_classify_function():
    assert coverage.classify("torch.Tensor methods", "add") == ("have", "")
    assert coverage.classify("torch.Tensor methods", "int_repr")[0] == "set aside"
    assert coverage.classify("torch functions", "compile")[0] == "refused"
    assert coverage.classify("torch functions", "no_such_thing_xyz") == ("missing", "")

    def marked():
        pass
    marked.__lamina_refused__ = "on purpose"
    assert coverage.classify("torch functions", "anything", marked) == ("refused", "on purpose")
    with pytest.raises(KeyError, match="unknown namespace"):
        coverage.classify("torch.nope", "x")


def test_command_line_formats(capsys, report, monkeypatch):
    from lamina.compat import __main__ as cli
    monkeypatch.setattr(coverage, "compute", lambda torch=None: report)  # one computation for all formats

    def out(*args):
        assert cli.main(list(args)) == 0
        return capsys.readouterr().out

    text = out()
    assert "torch.Tensor methods:" in text and "considered =" in text and "set aside, quantized" in text
    assert "Refused on purpose" in text
    md = out("--markdown")
    assert md.startswith("| namespace | have | considered |") and "| `torch.nn` |" in md
    data = json.loads(out("--json"))
    assert {e["namespace"] for e in data["namespaces"]} >= {"torch.nn", "torch functions"}
    missing = out("--missing")
    assert "set aside" not in missing and "considered" not in missing
    with pytest.raises(SystemExit):
        cli.main(["--json", "--markdown"])  # one format at a time
    assert cli.main(["--run"]) == 2 and "needs a script" in capsys.readouterr().err


def test_without_torch_exits_2(tmp_path):
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
    (tmp_path / "torch.py").write_text("raise ImportError('no torch here')\n")  # shadows the real one
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.path.join(root, "src"))
    r = subprocess.run([sys.executable, "-m", "lamina.compat"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 2 and "PyTorch is not installed" in r.stderr
