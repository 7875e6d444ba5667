"""Process-wide settings lamina makes at import: OpenMP wait policy, malloc thresholds, BLAS threads."""
import json
import os
import subprocess
import sys

import pytest

PROBE = ("import json, os, lamina, lamina._memory as m; "
         "print(json.dumps({'tuned': m.TUNED, 'omp': os.environ.get('OMP_WAIT_POLICY'), "
         "'threads': lamina.get_num_threads()}))")


def _probe(**env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("OMP_WAIT_POLICY", "LAMINA_MALLOC_TUNING", "MALLOC_MMAP_THRESHOLD_")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc tuning is glibc-only")
def test_defaults_on_linux():
    r = _probe(OPENBLAS_NUM_THREADS="1")
    assert r["tuned"] is True
    assert r["omp"] == "PASSIVE"
    assert r["threads"] == 1  # lamina adopts BLAS's configured thread count


def test_user_settings_win():
    r = _probe(OMP_WAIT_POLICY="ACTIVE", LAMINA_MALLOC_TUNING="0")
    assert r["omp"] == "ACTIVE" and r["tuned"] is False
    assert _probe(MALLOC_MMAP_THRESHOLD_="1048576")["tuned"] is False
