"""The settings lamina can make when asked: malloc thresholds (``lamina._memory.tune``, which the
``lamina`` command calls) and lamina's thread count (adopted from BLAS's configured count)."""
import json
import os
import subprocess
import sys

import pytest

PROBE = ("import json, os, lamina, lamina._memory as m; "
         "print(json.dumps({'tuned': m.tune(), 'omp': os.environ.get('OMP_WAIT_POLICY'), "
         "'threads': lamina.get_num_threads()}))")


def _probe(**env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("OMP_WAIT_POLICY", "LAMINA_MALLOC_TUNING", "MALLOC_MMAP_THRESHOLD_")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc tuning is glibc-only")
def test_tuning_when_asked_on_linux():
    r = _probe(OPENBLAS_NUM_THREADS="1")
    assert r["tuned"] is True
    assert r["omp"] is None      # lamina never sets OpenMP's wait policy
    assert r["threads"] == 1     # lamina adopts BLAS's configured thread count


def test_user_settings_win():
    assert _probe(LAMINA_MALLOC_TUNING="0")["tuned"] is False
    assert _probe(MALLOC_MMAP_THRESHOLD_="1048576")["tuned"] is False


def test_the_lamina_program_tunes_malloc_and_library_calls_do_not(monkeypatch, tmp_path):
    import lamina._memory
    import importlib
    cli = importlib.import_module("lamina.cli.main")
    calls = []
    monkeypatch.setattr(lamina._memory, "tune", lambda: calls.append(1) or True)
    missing = str(tmp_path / "nothing")
    assert cli.main(["evaluate", missing]) == 2 and calls == []          # main() called from Python: a library
    assert cli.main(["evaluate", missing], main_process=True) == 2 and calls == [1]   # the console script
