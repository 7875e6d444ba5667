#!/usr/bin/env bash
# Set up lamina and run its main job: train an MLP on scikit-learn's bundled digits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh datasets
exec .venv/bin/python examples/mlp_digits.py "$@"
