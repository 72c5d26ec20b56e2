"""Glue between Airflow (connections, Variables, Params, context) and the engine."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from airflow.sdk import Variable, get_current_context
from airflow.sdk.exceptions import AirflowFailException

from dify_maintenance import policy as policy_mod
from dify_maintenance.db import Connector, airflow_connector
from dify_maintenance.errors import MaintenanceError
from dify_maintenance.policy import Policy
from dify_maintenance.stores import StoreConfig, default_backup_store, store_from_airflow


def current_policy() -> Policy:
    """Defaults, the deployment Variable, then this run's Params: validated before any connection."""
    context = get_current_context()
    variable = Variable.get(policy_mod.POLICY_VARIABLE, default=None)
    return policy_mod.resolve(variable, dict(context["params"]))


def recorded_policy(ctx: dict) -> Policy:
    """The policy preflight recorded: retries and later tasks never see a different one."""
    return policy_mod.from_dict(ctx["policy"])


def connector_for(policy: Policy) -> Connector:
    return airflow_connector(policy.conn_id)


def archive_store(policy: Policy) -> StoreConfig:
    return store_from_airflow(policy.archive_conn_id)


def deletion_store(policy: Policy) -> StoreConfig | None:
    """The archive store the purge writes to and verify reads back; none for dry runs or archive off."""
    return archive_store(policy) if policy.archive and not policy.dry_run else None


def label(name: str) -> None:
    """Name a mapped task instance in the UI after the family it handles."""
    get_current_context()["family_label"] = name


F = TypeVar("F", bound=Callable)


def fail_fast(fn: F) -> F:
    """Bad input, a wrong connection or a broken invariant will not heal on retry: fail the task
    at once with the operator message. Retryable errors (lock contention) keep their retries."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MaintenanceError as exc:
            if exc.retryable:
                raise
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]


def stop_switch() -> bool:
    """True when an operator set the Variable ``dify_maintenance_stop`` to stop."""
    value = Variable.get(policy_mod.STOP_VARIABLE, default="")
    return str(value).strip().lower() in ("stop", "true", "1", "yes")


BACKUP_STORE_CONN_ID = "dify_backup_store"


def backup_store() -> StoreConfig:
    """The backup store: the connection ``dify_backup_store`` or ``$AIRFLOW_HOME/dify-backups``."""
    return store_from_airflow(BACKUP_STORE_CONN_ID, default_backup_store())


def preflight_context(ti, what_was_spared: str) -> dict:
    """The run's context for a report task; without it the run never started, and the report
    says so instead of failing on a missing key."""
    ctx = ti.xcom_pull(task_ids="preflight")
    if not ctx:
        raise AirflowFailException(f"preflight did not complete, so {what_was_spared}; see its log")
    return ctx
