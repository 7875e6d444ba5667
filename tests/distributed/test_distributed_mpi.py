"""lamina.distributed over 2 MPI processes (``mpiexec -n 2``): equivalence with one process, overlap,
no_sync, unused parameters; the CLI's --nproc 2, a SIGKILLed rank, and --resume with 1 process."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
if not os.path.isfile(MPIEXEC):
    MPIEXEC = shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401
    HAVE_MPI4PY = True
except ImportError:
    HAVE_MPI4PY = False

pytestmark = pytest.mark.skipif(MPIEXEC is None or not HAVE_MPI4PY,
                                reason="needs mpiexec and mpi4py: pip install 'lamina[distributed]'")


def _env(**extra):
    env = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[k] = "1"
    env["PYTHONPATH"] = os.path.join(ROOT, "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def test_two_processes_equal_one_process_with_the_global_batch(tmp_path):
    out = tmp_path / "eq.json"
    proc = subprocess.run([MPIEXEC, "-n", "2", sys.executable, os.path.join(HERE, "mpi_worker_equivalence.py"),
                           str(out)], env=_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["world_size"] == 2
    # 50 Adam steps: float64 weights within 1e-9, float32 loss curves within 1e-4 (MLP, and a
    # BatchNorm CNN with SyncBatchNorm: running statistics included)
    for model in ("mlp", "cnn"):
        assert r[f"{model}_f64_weights"] < 1e-9, r[f"{model}_f64_per_key"]
        assert r[f"{model}_f32_loss"] < 1e-4
        assert r[f"{model}_f64_loss"] < 1e-9
    # the first bucket was launched while backward was still producing later gradients
    assert r["buckets"] > 1 and r["first_launch_before_last_ready"]
    assert r["no_sync_local_kept"] and r["no_sync_error"] < 1e-12
    # rank 0 used only 'a' (local grad 2), rank 1 only 'b': each averaged with the other's zeros
    assert r["unused_grad_a"] == [[1.0, 1.0, 1.0]] and r["unused_grad_b"] == [[1.0, 1.0, 1.0]]


def _rank_pid(token: str, rank: int):
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"LAMINA_TEST_TOKEN={token}".encode() in env and f"PMI_RANK={rank}".encode() in env:
            return int(d)
    return None


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the rank's pid through /proc")
def test_sigkill_of_a_rank_ends_the_job_and_it_resumes_on_one_process(tmp_path):
    cfg = os.path.join(ROOT, "configs", "mlp_digits.toml")
    run = tmp_path / "run"
    token = uuid.uuid4().hex
    common = ["--set", "model.hidden_sizes=[16]", "--set", "train.epochs=60"]  # long: killed early
    proc = subprocess.Popen([sys.executable, "-m", "lamina", "train", cfg, *common, "--set",
                             "train.checkpoint_every_n_steps=2", "--run-dir", str(run), "--nproc", "2", "--quiet"],
                            env=_env(LAMINA_TEST_TOKEN=token), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    last = run / "checkpoints" / "last.safetensors"
    deadline = time.monotonic() + 120
    pid = None
    while time.monotonic() < deadline and proc.poll() is None:
        pid = _rank_pid(token, 1) if last.exists() else None
        if pid is not None:
            break
        time.sleep(0.05)
    assert pid is not None and proc.poll() is None, "the job ended before a rank could be killed"
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the surviving rank did not exit within 30 s of the SIGKILL")
    assert time.monotonic() - t0 < 30
    assert proc.returncode != 0
    assert "lost rank 1" in err, (proc.returncode, out[-2000:], err[-2000:])
    assert not (run / "test_metrics.json").exists()  # killed mid-training
    # the run resumes from its last checkpoint with 1 process; twice from the same checkpoint: equal
    from lamina import io
    from lamina.cli.main import main
    twin = tmp_path / "twin"
    shutil.copytree(run, twin)
    saved = io.load(str(last), as_numpy=True)["trainer"]
    epochs = int(saved["epoch"]) + 2  # finish the interrupted epoch and one more
    for d in (run, twin):
        assert main(["train", str(d), "--resume", "--nproc", "1", "--quiet", "--set", f"train.epochs={epochs}"]) == 0
    a = io.load(str(run / "checkpoints" / "last.safetensors"), as_numpy=True)
    b = io.load(str(twin / "checkpoints" / "last.safetensors"), as_numpy=True)
    assert a["trainer"]["epoch"] == epochs - 1 and a["trainer"]["epoch_complete"]
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k], b["model"][k], err_msg=k)
    ma = json.loads((run / "test_metrics.json").read_text())
    assert ma == json.loads((twin / "test_metrics.json").read_text()) and ma["epochs"] == epochs
