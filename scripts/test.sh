#!/usr/bin/env bash
# Set up lamina with its test extras and run the whole test suite (2 worker processes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,parity,datasets
exec .venv/bin/python -m pytest -n 2 -q "$@"
