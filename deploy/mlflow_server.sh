#!/usr/bin/env bash
# The MLflow tracking server of the production profile: runs and the model registry on
# PostgreSQL, artifacts served by the server from object storage (clients need no bucket
# credentials). Set MLFLOW_BACKEND_STORE_URI and MLFLOW_ARTIFACTS_DESTINATION (production.env).
set -euo pipefail
exec mlflow server \
  --host "${MLFLOW_HOST:-0.0.0.0}" \
  --port "${MLFLOW_PORT:-5000}" \
  --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
  --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION"
