"""The task of ``dify_table_sizes``."""

from __future__ import annotations

from airflow.sdk import task

from dify_maintenance.airflow.tasks.common import connector_for, current_policy, fail_fast
from dify_maintenance.database import sizes


@task
@fail_fast
def snapshot() -> dict:
    """Every table's size and row estimates now; snapshots older than a year go."""
    return sizes.snapshot(connector_for(current_policy()))
