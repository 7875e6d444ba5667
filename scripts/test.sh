#!/usr/bin/env bash
# Set up lamina with its test extras and run the whole test suite (2 worker processes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,parity,datasets
# two test workers use the two cores: one BLAS/OpenMP/Numba thread each, or they thrash
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
exec .venv/bin/python -m pytest -n 2 -q "$@"
