"""The trigger forms of the three workflow-log DAGs (migration, cleanup-pg, index retention), and
the fields they share (the cluster and the index prefix), declared once so the three forms check
them the same way."""

from __future__ import annotations

from datetime import timedelta

from dify_maintenance.core.forms import Field, Form
from dify_maintenance.core.policy import CONFIRM_DATABASE_FIELD, UUID_RE
from dify_maintenance.logstore.cluster import PREFIX_MAX, PREFIX_PATTERN
from dify_maintenance.logstore.documents import DATA_TYPES, LAYOUTS
from dify_maintenance.storage.dify_storage import STORAGE_FIELDS

PREFIX_FIELD = Field(
    "index_prefix",
    "Index prefix",
    "string",
    None,
    "Indices",
    "Empty: the cluster's (ELASTICSEARCH_INDEX_PREFIX or the connection's index_prefix; dify). Dify reads only 'dify'.",
    nullable=True,
    pattern=PREFIX_PATTERN,
    max_length=PREFIX_MAX,
)

CLUSTER_CONN_FIELD = Field(
    "cluster_conn_id",
    "Cluster: Airflow connection",
    "string",
    "dify_log_store",
    "Cluster",
    "Hosts, login/password or api_key, TLS in the extra; ignored when a Dify .env is given.",
    nullable=True,
)


# Rows younger than this at the database's now wait for the next run: a transaction still open
# may yet commit a row dated before the stream's watermark (the pass finds it, but a month's
# stream should not race the rows being written).
SETTLE = timedelta(hours=1)


LOG_MIGRATION_FORM = Form(
    "dify_log_migration",
    (
        Field("dry_run", "Dry run (estimate documents and bytes, write nothing)", "boolean", True, "Safety"),
        Field(
            "tenant_ids",
            "Tenants",
            "array",
            [],
            "Scope",
            "UUIDs, one per line. Empty: every tenant.",
            items={"type": "string", "pattern": UUID_RE.pattern},
        ),
        Field(
            "start_date",
            "From (inclusive, UTC)",
            "string",
            None,
            "Scope",
            "Empty: from the oldest row.",
            nullable=True,
            format="date",
        ),
        Field(
            "end_date",
            "Until (inclusive, UTC)",
            "string",
            None,
            "Scope",
            f"Empty: up to {int(SETTLE.total_seconds() // 3600)} h before the database's now (rows still being written "
            "wait for the next run).",
            nullable=True,
            format="date",
        ),
        Field(
            "data_types",
            "Data types",
            "array",
            list(DATA_TYPES),
            "Scope",
            "workflow_runs, app_logs, node_executions (offloaded payloads are inlined).",
            items={"type": "string", "enum": list(DATA_TYPES)},
            min_items=1,
        ),
        Field("batch_mb", "Bulk request size (MB)", "integer", 8, "Load", minimum=1, maximum=100),
        Field(
            "concurrency",
            "Bulk requests in flight",
            "integer",
            4,
            "Load",
            "For the whole run: its months are migrated one after another.",
            minimum=1,
            maximum=16,
        ),
        Field(
            "index_layout",
            "Index layout",
            "string",
            "per_tenant",
            "Indices",
            "per_tenant: Dify's names (<prefix>-workflow-runs-<tenant>-<YYYY.MM>), what Dify reads. monthly: one index "
            "per data type and month with a tenant_id field: an export Dify cannot read.",
            enum=LAYOUTS,
        ),
        PREFIX_FIELD,
        Field(
            "create_index",
            "Create an index on created_at where missing",
            "boolean",
            False,
            "Load",
            "CREATE INDEX CONCURRENTLY (created_at, id): without one every segment of 100,000 rows reads the whole table.",
        ),
        Field("restart", "Restart (ignore watermarks, send everything again)", "boolean", False, "Load"),
        CLUSTER_CONN_FIELD,
        *STORAGE_FIELDS,
    ),
)


LOG_CLEANUP_FORM = Form(
    "dify_log_cleanup_pg",
    (
        Field("dry_run", "Dry run (count what would be deleted)", "boolean", True, "Safety"),
        CONFIRM_DATABASE_FIELD,
        Field("before_date", "Delete rows created before (UTC date)", "string", None, "Scope", format="date"),
        Field(
            "tenant_ids",
            "Tenants",
            "array",
            [],
            "Scope",
            "UUIDs, one per line. Empty: every tenant (then the validation must have covered every tenant).",
            items={"type": "string", "pattern": UUID_RE.pattern},
        ),
        Field("archive", "Archive deleted rows first", "boolean", True, "Safety"),
        Field(
            "confirm_archive_off",
            "Archive off: type the database name again",
            "string",
            None,
            "Safety",
            "Only with archive off: the rows then exist only in the cluster once deleted.",
            nullable=True,
        ),
        CLUSTER_CONN_FIELD,
        *STORAGE_FIELDS,
    ),
)


LOG_INDEX_RETENTION_FORM = Form(
    "dify_log_index_retention",
    (
        Field("dry_run", "Dry run (list what would be dropped)", "boolean", True, "Safety"),
        Field(
            "confirm_cluster",
            "Type the cluster's name to allow a real run",
            "string",
            None,
            "Safety",
            "Leave empty for a dry run. With dry run off it must equal the cluster's name (cluster_name of its GET /); "
            "a dry run's report prints it.",
            nullable=True,
        ),
        Field(
            "retention_days",
            "Keep indices of the last N days",
            "integer",
            None,
            "Retention",
            "Empty: the cluster's ELASTICSEARCH_RETENTION_DAYS (or the connection's retention_days; 30).",
            nullable=True,
            minimum=1,
            maximum=36_500,
        ),
        PREFIX_FIELD,
        CLUSTER_CONN_FIELD,
        Field("dify_env", "Cluster: path of Dify's .env", "string", None, "Cluster", nullable=True),
    ),
)
