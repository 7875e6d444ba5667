#!/usr/bin/env bash
# Set up lamina with its test extras and run the whole test suite (2 worker processes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,parity,datasets
# Spark (tests/spark) needs Java 17+: installed from Debian's packages when it is missing, on CI or as root
if ! command -v java >/dev/null 2>&1 && { [ "${CI:-}" = "true" ] || [ "$(id -u)" = "0" ]; }; then
  sudo=""; [ "$(id -u)" = "0" ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null \
    && { $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
         || $sudo apt-get install -y -qq default-jre-headless >/dev/null; } \
    || echo "scripts/test.sh: could not install Java; the Spark tests will skip" >&2
fi
# two test workers use the two cores: one BLAS/OpenMP/Numba thread each, or they thrash
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
exec .venv/bin/python -m pytest -n 2 -q "$@"
