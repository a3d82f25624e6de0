"""Airflow DAG: nightly ``gdr annotate`` on Dataflow GPU workers, from the Flex Template.

Each run annotates the partition of its *logical date* (``{{ ds }}``), not of the wall
clock: a retry, a late start or ``airflow dags backfill`` rewrites exactly that day's
partition (reruns of a date replace it; scores already published for identical content
are reused, so a rerun costs little).

The task waits until the Dataflow job ends. With ``--no-wait`` (which the template adds)
the job publishes its own output as its final step, so a succeeded job means a published
partition and a failed one means nothing was published; a failure fails the task, which
emails and calls ``alert_on_failure``.

Settings are Airflow Variables read at run time (Jinja), never at parse time:
``gdr_project``, ``gdr_region``, ``gdr_template`` (gs:// path of the built template spec),
``gdr_image`` (the worker image), ``gdr_bucket``, ``gdr_input``, ``gdr_output``,
``gdr_strong``, ``gdr_weak``. Alert recipients come from ``GDR_ALERT_EMAILS``
(comma-separated) in the scheduler's environment.

Requires ``apache-airflow-providers-google``. Not importable in the gdr repository (no
Airflow there); tests/test_deploy.py checks it with ``ast`` only.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import pendulum
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

log = logging.getLogger(__name__)

VAR = "{{{{ var.value.{} }}}}".format  # a Variable, resolved when the task runs
ALERT_EMAILS = [e.strip() for e in os.environ.get("GDR_ALERT_EMAILS", "").split(",") if e.strip()]


def alert_on_failure(context) -> None:
    """Failure hook: one greppable line with what an on-call person needs.

    Replace the body with your pager or chat notifier (Slack, PagerDuty, ...); email is
    sent separately through ``email_on_failure``.
    """
    ti = context["task_instance"]
    log.error(
        "GDR NIGHTLY FAILED dag=%s task=%s run_date=%s try=%s log=%s",
        ti.dag_id,
        ti.task_id,
        context.get("ds"),
        ti.try_number,
        getattr(ti, "log_url", ""),
    )


default_args = {
    "owner": "gdr",
    # One retry: a rerun of the same date replaces its partition and reuses published scores.
    "retries": 1,
    "retry_delay": timedelta(minutes=30),
    "email": ALERT_EMAILS,
    "email_on_failure": bool(ALERT_EMAILS),
    "email_on_retry": False,
    "on_failure_callback": alert_on_failure,
}

with DAG(
    dag_id="gdr_nightly_annotate",
    description="Nightly guided density-ratio preference annotation on Dataflow (Flex Template)",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    # Backfills are explicit (airflow dags backfill); a paused DAG does not launch a burst of runs.
    catchup=False,
    # One date at a time: each run reuses the scores that earlier dates published.
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=20),
    default_args=default_args,
    tags=["gdr", "dataflow", "gpu"],
) as dag:
    annotate = DataflowStartFlexTemplateOperator(
        task_id="annotate",
        project_id=VAR("gdr_project"),
        location=VAR("gdr_region"),
        wait_until_finished=True,
        # The job name gets a unique suffix, so a retry never collides with the failed job.
        append_job_name=True,
        execution_timeout=timedelta(hours=18),
        body={
            "launchParameter": {
                "jobName": "gdr-annotate-{{ ds_nodash }}",
                "containerSpecGcsPath": VAR("gdr_template"),
                "parameters": {
                    "input": VAR("gdr_input"),
                    "output": VAR("gdr_output"),
                    "strong": VAR("gdr_strong"),
                    "weak": VAR("gdr_weak"),
                    # The logical date, never "today": retries and backfills hit their own partition.
                    "run_date": "{{ ds }}",
                    # A failed try's job can leave the date's run lock behind; the operator
                    # waited for that job to end, so a retry may take the lock over.
                    "break_lock": "{{ 'true' if ti.try_number > 1 else 'false' }}",
                    # Beam/Dataflow options (not template parameters): a GPU on every worker.
                    "dataflow_service_options": "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver",
                    "number_of_worker_harness_threads": "8",
                },
                "environment": {
                    "sdkContainerImage": VAR("gdr_image"),
                    "machineType": "g2-standard-8",
                    # One SDK process per VM: all threads share the machine's model copies.
                    "additionalExperiments": ["no_use_multiple_sdk_containers"],
                    # Worker image (~10 GB) plus the local copies of both gs:// model folders.
                    "diskSizeGb": 200,
                    "maxWorkers": 4,
                    "tempLocation": "gs://" + VAR("gdr_bucket") + "/tmp",
                    "stagingLocation": "gs://" + VAR("gdr_bucket") + "/staging",
                },
            }
        },
    )
