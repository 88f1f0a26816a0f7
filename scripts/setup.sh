#!/usr/bin/env bash
# Set up a fresh clone and train once on the embedded defaults:
#   .venv/ with pinned dependencies, the sample data in var/data/, then training_job on a local
#   Dagster instance (dagster_home/), local Feast and a local MLflow store (var/mlflow/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

python=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,production,spark]"

.venv/bin/python -m training_assets.core.data.sample_data

export DAGSTER_HOME="$root/dagster_home"
.venv/bin/dagster job execute -m training_assets.definitions -j training_job

cat <<MSG

Training finished on the embedded defaults.
  Asset outputs:   $root/var/assets/runs/<run id>/  (evaluation.json, registered_model_version.json, ...)
  MLflow store:    .venv/bin/mlflow ui --backend-store-uri sqlite:///$root/var/mlflow/mlflow.db
  Dagster UI:      DAGSTER_HOME=$root/dagster_home .venv/bin/dagster dev   (then open http://127.0.0.1:3000)
MSG
