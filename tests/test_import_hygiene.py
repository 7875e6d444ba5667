"""``import lamina`` changes nothing process-wide, and lamina's thread policy applies only while
lamina works (a module's forward, a backward pass, the Trainer's loops).

Each check runs in a fresh interpreter, so that nothing the test process did before counts.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lamina
from lamina import _threads, nn

threadpoolctl = pytest.importorskip("threadpoolctl")


def _python(code: str, env_extra=None) -> dict:
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                "OMP_WAIT_POLICY", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        env.pop(var, None)
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_keeps_blas_threads_and_environment():
    res = _python("""
        import json, os, numpy, threadpoolctl
        blas = lambda: sorted((i["internal_api"], i["num_threads"]) for i in threadpoolctl.threadpool_info()
                              if i["user_api"] == "blas")
        before, env = blas(), dict(os.environ)
        import lamina
        lamina.get_num_threads()
        x = lamina.randn(64, 64)
        (x @ x).sum()                                  # a lamina op outside any module
        print(json.dumps({"before": before, "after": blas(), "env_same": env == dict(os.environ),
                          "omp": os.environ.get("OMP_WAIT_POLICY")}))
    """, {"OPENBLAS_NUM_THREADS": "2"})
    assert res["after"] == res["before"] and res["before"] and res["before"][0][1] == 2
    assert res["env_same"] and res["omp"] is None


def test_import_leaves_malloc_alone():
    # glibc serves a fresh 20 MB block with mmap and gives it back on free (RSS drops); with
    # lamina's malloc tuning (mmap threshold 32 MB, trim threshold 256 MB) it would stay resident
    code = """
        import json, numpy as np
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096
        import lamina
        {tune}
        a = np.ones(20 << 17)          # 20 MB of float64, touched
        r1 = rss(); del a; r2 = rss()
        print(json.dumps({{"released": r1 - r2}}))
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc malloc only")
    plain = _python(code.format(tune=""))
    tuned = _python(code.format(tune="import lamina.backends.cpu as c; assert c.recycle_large_arrays()"))
    assert plain["released"] > 15 << 20, "import lamina changed malloc's settings"
    assert tuned["released"] < 5 << 20, "the tuning (asked for explicitly) should keep freed blocks"


def test_user_numpy_keeps_its_threads_around_lamina_work():
    libs = _threads._T.discover()
    if not libs:
        pytest.skip("no BLAS library that threadpoolctl can drive")
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            seen.append(max(lib.num_threads for lib in libs))   # inside lamina's work
            return self.fc(x)

    model = Probe()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert [lib.num_threads for lib in libs] == [2] * len(libs)
        loss = model(lamina.randn(5, 8)).sum()
        assert [lib.num_threads for lib in libs] == [2] * len(libs)   # back to the user's setting
        loss.backward()
        assert [lib.num_threads for lib in libs] == [2] * len(libs)
        from lamina.train import Trainer
        Trainer(model, nn.MSELoss(), lamina.optim.SGD(model.parameters(), lr=0.1)).fit(
            (lamina.randn(10, 8), lamina.randn(10, 4)), epochs=1, verbose=False)
        assert [lib.num_threads for lib in libs] == [2] * len(libs)
    assert seen and set(seen) == {1}


def test_num_threads_context_manager():
    before = lamina.get_num_threads()
    with lamina.num_threads(3):
        assert lamina.get_num_threads() == 3
    assert lamina.get_num_threads() == before


def test_lamina_never_starts_an_openmp_pool():
    """lamina's Numba kernels are serial and split over lamina's own threads: after norms,
    attention, max pooling, grid sampling and a large optimizer update, Numba's threading layer
    (OpenMP) has never been started."""
    res = _python("""
        import json, numpy as np, numba, lamina
        from lamina import nn
        import lamina.nn.functional as F
        lamina.set_num_threads(2)
        x = lamina.randn(8, 16, 32, 32, requires_grad=True)
        y = nn.BatchNorm2d(16)(x)
        y = F.max_pool2d(y, 2)
        y = F.layer_norm(y, (16,))
        g = F.affine_grid(lamina.eye(2, 3).unsqueeze(0).expand(8, 2, 3), (8, 16, 16, 16), align_corners=False)
        y = F.grid_sample(y, g, align_corners=False)
        q = lamina.randn(4, 4, 128, 32, requires_grad=True)
        a = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        (y.sum() + a.sum()).backward()
        w = lamina.nn.Parameter(lamina.randn(1 << 21))
        w.grad = lamina.ones(1 << 21)
        lamina.optim.Adam([w]).step()
        try:
            layer = numba.threading_layer()
        except ValueError:
            layer = None
        print(json.dumps({"layer": layer}))
    """, {"OPENBLAS_NUM_THREADS": "2"})
    assert res["layer"] is None, f"an OpenMP/TBB pool was started ({res['layer']})"


def test_import_lamina_imports_no_optional_dependency():
    """Every capability's dependencies are optional extras: ``import lamina`` (and its always-loaded
    subpackages) imports none of them."""
    res = _python("""
        import json, sys
        import lamina, lamina.nn, lamina.optim, lamina.data, lamina.models, lamina.train
        heavy = ["onnx", "onnxruntime", "starlette", "uvicorn", "fastapi", "httpx", "gymnasium", "shap", "torch",
                 "captum", "stable_baselines3", "mpi4py", "flwr", "pyspark", "matplotlib", "optuna", "tensorboardX",
                 "tokenizers", "sklearn", "PIL"]
        print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
    """)
    assert res == []
