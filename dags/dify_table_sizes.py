"""
### Dify table sizes (hourly)

One snapshot per hour of every Dify table's size (heap, indexes, total) and row estimates (live
and dead tuples), from the catalog and the statistics collector: no table is read, so it costs
nothing beside a live Dify. Kept for a year in `dify_maintenance.table_sizes`; the maintenance
page (Browse → Dify maintenance) draws the growth curves from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.tasks import sizes


@dag(
    dag_id="dify_table_sizes",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    tags=["dify", "maintenance"],
    doc_md=__doc__,
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=2)},
)
def dify_table_sizes():
    sizes.snapshot() >> sizes.report()


dify_table_sizes()
