"""Glue between Airflow (connections, Variables, Params, context) and the engine."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from airflow.sdk import Variable, get_current_context
from airflow.sdk import task as airflow_task
from airflow.sdk.exceptions import AirflowFailException

from dify_maintenance.airflow import connections
from dify_maintenance.core import forms
from dify_maintenance.core import policy as policy_mod
from dify_maintenance.core import settings as settings_mod
from dify_maintenance.core.db import Connector
from dify_maintenance.core.errors import InvalidPolicy, MaintenanceError
from dify_maintenance.core.policy import Policy
from dify_maintenance.core.settings import Settings
from dify_maintenance.storage.stores import StoreConfig, default_backup_store

log = logging.getLogger(__name__)


def task(python_callable=None, **kwargs):
    """Airflow's ``@task``, each task's dict kept as one XCom. Airflow otherwise splits a
    function annotated ``-> dict`` into one XCom per key (a dozen writes per task, and a key named
    ``error`` or ``summary`` would overwrite the ones the run's end reads); no DAG reads a key."""
    kwargs.setdefault("multiple_outputs", False)
    return airflow_task(python_callable, **kwargs) if python_callable else airflow_task(**kwargs)


def run_params() -> dict:
    """This run's form values, and only those: a ``conf`` key the DAG's form does not declare
    fails the run before anything connects (Airflow itself passes unknown keys on)."""
    context = get_current_context()
    declared = context["dag"].params
    forms.check_conf(context["dag_run"].conf or {}, declared.keys(), context["dag"].dag_id)
    params = context["params"]
    return {name: params[name] for name in declared}


def scheduled_params(variable: str) -> dict:
    """``run_params``; for a scheduled run, overlaid with the JSON object in the Airflow Variable
    ``variable`` (a scheduled run takes the form's defaults, a dry run, unless the deployment
    says otherwise there)."""
    params = run_params()
    if get_current_context()["dag_run"].run_type == "scheduled":
        raw = Variable.get(variable, default=None)
        if raw:
            try:
                overrides = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InvalidPolicy(f"Airflow Variable {variable} is not valid JSON: {exc}") from exc
            if not isinstance(overrides, dict):
                raise InvalidPolicy(f"Airflow Variable {variable} must be a JSON object of the form's fields")
            params.update(overrides)
    return params


def current_policy(run_values: dict | None = None) -> Policy:
    """Defaults, the deployment Variable, then ``run_values`` (the retention form's fields):
    validated before any connection. Only the DAGs that purge read it."""
    variable = Variable.get(policy_mod.POLICY_VARIABLE, default=None)
    return policy_mod.resolve(variable, run_values)


def current_settings() -> Settings:
    """The deployment's connection ids, without the retention rules: a mistake in a retention
    key does not stop a backup, the log pipeline or the orphaned files."""
    return settings_mod.resolve(Variable.get(settings_mod.VARIABLE, default=None))


def run_moment(dag_run) -> datetime:
    """The run's own "now": its logical date (a scheduled run), else when it was triggered.
    Every cutoff and grace period of a run is measured from it, never from the wall clock, so
    retries agree with the first try and tests can build scenarios around it."""
    return dag_run.logical_date or dag_run.run_after


def recorded_policy(ctx: dict) -> Policy:
    """The policy preflight recorded: retries and later tasks never see a different one."""
    return policy_mod.from_dict(ctx["policy"])


def connector_for(where: Policy | Settings) -> Connector:
    return connections.dify_database(where.conn_id)


def archive_store(where: Policy | Settings) -> StoreConfig:
    return connections.store(where.archive_conn_id, local_shared=current_settings().local_stores_shared)


def deletion_store(policy: Policy) -> StoreConfig | None:
    """The archive store the purge writes to and verify reads back; none for dry runs or archive off."""
    return archive_store(policy) if policy.archive and not policy.dry_run else None


def mapped_results(*sequences) -> list:
    """The results of mapped tasks, read in one slice each: iterating Airflow's lazy XCom
    sequence reads one item after another until a 404, which logs an error for every run."""
    return [item for seq in sequences for item in (seq[: len(seq)] if len(seq) else [])]


def label(name: str) -> None:
    """Name a mapped task instance in the UI after the family it handles."""
    get_current_context()["family_label"] = name


F = TypeVar("F", bound=Callable)


ERROR_XCOM_KEY = "error"


def error_line(exc: BaseException) -> str:
    """One line a person can act on: the error's class and its first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


def fail_fast(fn: F) -> F:
    """Bad input, a wrong connection or a broken invariant will not heal on retry: fail the task
    at once with the operator message. Retryable errors (lock contention, a store that timed out)
    keep their retries. Either way the error is kept as the task's ``error`` XCom, so the report
    (and the history, the alert and the run's note) can say what went wrong."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            _record_error(exc)
            if isinstance(exc, MaintenanceError) and not exc.retryable:
                raise AirflowFailException(error_line(exc)) from exc
            raise

    return wrapper  # type: ignore[return-value]


def _record_error(exc: Exception) -> None:
    try:
        get_current_context()["ti"].xcom_push(ERROR_XCOM_KEY, error_line(exc))
    except Exception:  # no context outside a task; the exception itself still propagates
        log.debug("could not record the error as an XCom", exc_info=True)


def task_errors(ti, task_ids) -> dict[str, str]:
    """The errors the run's tasks recorded, by task (a mapped task's distinct errors joined)."""
    found: dict[str, str] = {}
    for task_id in task_ids:
        value = ti.xcom_pull(task_ids=task_id, key=ERROR_XCOM_KEY)
        messages = [value] if isinstance(value, str) else [v for v in value or () if v]
        if messages:
            found[task_id] = "; ".join(dict.fromkeys(messages))
    return found


def stop_switch() -> bool:
    """True when an operator set the Variable ``dify_maintenance_stop`` to stop."""
    return settings_mod.stop_requested(Variable.get(settings_mod.STOP_VARIABLE, default=""))


BACKUP_STORE_CONN_ID = "dify_backup_store"


def backup_store() -> StoreConfig:
    """The backup store: the connection ``dify_backup_store`` or ``$AIRFLOW_HOME/dify-backups``."""
    return connections.store(BACKUP_STORE_CONN_ID, default_backup_store(), local_shared=current_settings().local_stores_shared)


SUMMARY_XCOM_KEY = "summary"


def run_errors() -> dict[str, str]:
    """The errors this run's other tasks recorded, in the DAG's task order."""
    context = get_current_context()
    own = context["ti"].task_id
    return task_errors(context["ti"], [task_id for task_id in context["dag"].task_ids if task_id != own])


def publish_summary(note: str) -> None:
    """The report's summary for the run page: our listener plugin (plugins/dify_maintenance_notes.py)
    copies it into the run's note when the run ends. A task cannot set the note itself."""
    get_current_context()["ti"].xcom_push(SUMMARY_XCOM_KEY, note)
