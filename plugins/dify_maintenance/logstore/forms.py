"""Form fields every workflow-log DAG shares: the cluster and the index prefix, declared once so
the three forms check them the same way."""

from __future__ import annotations

from dify_maintenance.core.forms import Field
from dify_maintenance.logstore.cluster import PREFIX_MAX, PREFIX_PATTERN

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
