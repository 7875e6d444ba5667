#!/usr/bin/env bash
# Set up lamina and run its main job: train an MLP on scikit-learn's bundled digits
# (configs/mlp_digits.toml; the run directory is written to runs/mlp_digits/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh datasets
exec .venv/bin/lamina train configs/mlp_digits.toml "$@"
