#!/usr/bin/env bash
# The MLflow tracking server of the production profile: runs and the model registry on
# PostgreSQL, artifacts served by the server from object storage (clients need no bucket
# credentials). Set MLFLOW_BACKEND_STORE_URI and MLFLOW_ARTIFACTS_DESTINATION (production.env).
#
# `mlflow server` reads each of its settings from these variables itself, and hands them to
# its workers in their environment. None goes on a command line: the backend store URI holds
# the database password, and any local user can read a process's arguments (ps,
# /proc/<pid>/cmdline).
set -euo pipefail
: "${MLFLOW_BACKEND_STORE_URI:?set MLFLOW_BACKEND_STORE_URI (deploy/production.env)}"
: "${MLFLOW_ARTIFACTS_DESTINATION:?set MLFLOW_ARTIFACTS_DESTINATION (deploy/production.env)}"
export MLFLOW_HOST="${MLFLOW_HOST:-0.0.0.0}"
export MLFLOW_PORT="${MLFLOW_PORT:-5000}"
# MLflow's server job runner (GenAI judges and scorers, trace rollups) starts several huey
# consumer processes beside the server, each importing MLflow: the pipeline uses none of
# those jobs. Set it to true to run them.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}"
exec mlflow server
