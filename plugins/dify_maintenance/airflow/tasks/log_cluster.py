"""The log cluster and Dify's storage as the log DAGs' forms name them, and cleanup-pg's proof
built from the context its preflight recorded (a retry of a purge task builds the same one)."""

from __future__ import annotations

from dify_maintenance.airflow import connections
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.logstore.cluster import ClusterConfig, identify
from dify_maintenance.logstore.proof import DocumentProof
from dify_maintenance.logstore.reader import Fetch
from dify_maintenance.storage.stores import StoreConfig


def cluster_of(form: dict) -> ClusterConfig:
    return connections.log_store(form.get("cluster_conn_id"), form.get("dify_env"))


def storage_of(form: dict, default_conn_id: str | None) -> StoreConfig:
    if form.get("dify_env"):
        return connections.dify_storage(dify_env_file=form["dify_env"])
    return connections.dify_storage(conn_id=form.get("storage_conn_id") or default_conn_id)


def lazy_reader(form: dict, default_conn_id: str | None) -> Fetch:
    """Reads offloaded payloads from Dify's storage, resolved on the first read: a run with no
    offloaded payload never needs the storage configured. A storage that cannot be resolved fails
    the read of that payload (its document is then not made or not proved), not the run."""
    operator = None

    def read(key: str) -> bytes:
        nonlocal operator
        if operator is None:
            operator = storage_of(form, default_conn_id).operator()
        return bytes(operator.read(key))

    return read


def proof_for(ctx: dict, default_storage_conn_id: str | None) -> DocumentProof | None:
    """cleanup-pg's check at the moment of deleting, on the cluster its preflight identified."""
    source = ctx.get("log_proof")
    if not source:
        return None
    cluster = cluster_of(source)
    client = cluster.client()
    info = identify(client, cluster)
    if info.uuid != source["cluster_uuid"]:
        raise MaintenanceError(
            f"the log cluster's connection now reaches cluster {info.uuid}, not {source['cluster_uuid']} that preflight "
            "checked and that the validation covered: nothing is deleted; trigger cleanup-pg again"
        )
    return DocumentProof(client, cluster, source["prefix"], source["layout"], lazy_reader(source, default_storage_conn_id))
