"""Runs whose process died: found, marked failed, and their MLflow runs ended.

A run killed with its process (SIGKILL, an OOM kill, a reboot) stays STARTED in Dagster and
RUNNING in MLflow, and holds the run queue's one training slot. Dagster's run monitoring finds
such runs only for run launchers that can check their workers, which the default (local)
launcher cannot, and never for `dagster job execute`. So each run records its host and process
(`claim_run`), and `heal_dead_runs` marks failed every in-progress run on this host whose
process is gone. The `dead_run_sensor` does that every minute, and every run does it as it
starts. A healed run is tagged, so that the new-data sensor asks for its data again.

An MLflow server that stops answering at the end of a run leaves the MLflow run RUNNING (the
run ends it with one short request) and may leave a registered version pending; the sensor's
tick ends the first (`end_orphaned_mlflow_runs`) and finishes or removes the second once the
server answers again, whether or not another training run comes.
"""

import os
import socket
from pathlib import Path

import mlflow
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from training_assets.defs.instance_reads import retried
from training_assets.defs.tags import DAGSTER_RUN_TAG, DIED_TAG, HOST_TAG, PID_TAG

_IN_PROGRESS = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def process_identity(pid: int) -> str:
    """`pid` with its start time on Linux, so that a reused pid is not taken for the process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return str(pid)
    return f"{pid}:{fields[19]}"  # starttime, the 22nd field of stat


def is_alive(identity: str) -> bool:
    """Whether the process `identity` names still runs (a zombie does not)."""
    pid_text, _, started = identity.partition(":")
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return True  # no /proc to ask: the pid exists
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return fields[0] != "Z" and (not started or fields[19] == started)


def claim_run(instance: DagsterInstance, run_id: str) -> None:
    """Record in the run's tags the host and process that execute it, once."""
    run = retried(lambda: instance.get_run_by_id(run_id), f"run {run_id}")
    if run is None or run.tags.get(PID_TAG):
        return
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: process_identity(os.getpid())}
    # Setting tags is idempotent: tried again as reads are.
    retried(lambda: instance.add_run_tags(run_id, tags), f"run {run_id}'s tags")


def heal_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the in-progress runs on this host whose process is gone.

    Returns:
        The ids of the runs marked failed.
    """
    host = socket.gethostname()
    healed = []
    in_progress = retried(
        lambda: instance.get_runs(filters=RunsFilter(statuses=_IN_PROGRESS, tags={HOST_TAG: host})),
        "the runs in progress",
    )
    for run in in_progress:
        identity = run.tags.get(PID_TAG, "")
        if not identity or identity == process_identity(os.getpid()) or is_alive(identity):
            continue
        retried(
            lambda run=run: instance.add_run_tags(run.run_id, {DIED_TAG: "true"}),
            f"run {run.run_id}'s tags",
        )
        instance.report_run_failed(
            run, f"Marked failed: the run's process ({identity}) on {host} is gone."
        )
        healed.append(run.run_id)
    return healed


def end_orphaned_mlflow_runs(client: mlflow.MlflowClient, instance: DagsterInstance) -> list[str]:
    """End the MLflow runs still RUNNING for this instance's Dagster runs that are over:
    FINISHED when the Dagster run succeeded (only ending its MLflow run failed, on a server
    that did not answer), else FAILED. Runs of Dagster runs this instance does not know
    (another deployment on the same tracking server) and of runs in progress are left alone.

    Returns:
        The MLflow run ids ended.
    """
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    if not experiments:
        return []
    ended = []
    for run in client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'"):
        dagster_run_id = run.data.tags.get(DAGSTER_RUN_TAG)
        if not dagster_run_id:
            continue
        dagster_run = retried(
            lambda run_id=dagster_run_id: instance.get_run_by_id(run_id), f"run {dagster_run_id}"
        )
        if dagster_run is None or not dagster_run.is_finished:
            continue
        succeeded = dagster_run.status == DagsterRunStatus.SUCCESS
        client.set_terminated(run.info.run_id, status="FINISHED" if succeeded else "FAILED")
        ended.append(run.info.run_id)
    return ended
