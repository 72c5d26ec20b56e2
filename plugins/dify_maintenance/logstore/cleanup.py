"""cleanup-pg: delete migrated workflow logs from PostgreSQL, and only rows whose document Dify can
read from the cluster at the moment they are deleted.

Three gates, in order:

1. Dify can read the cluster: Elasticsearch 8/9 (its ``GET /``), prefix ``dify``, one index per
   tenant and month. Anything else is an export: the migration may write it, this deletes nothing
   on its word.
2. The newest validation of this cluster (by its UUID), prefix and layout that covers the request
   (every data type, the tenants asked for, from the oldest row up to at least ``before_date``),
   newest by the database's time of the check, passed. A newer one that failed blocks.
3. At the moment of deleting, each batch's rows are compared with their documents in the cluster
   (``logstore.proof``); a run whose documents are missing or different stays, reported by id. The
   validation is not the proof: rows can be written, changed or lost from the cluster after it.

Then the purge engine runs the workflow-logs family with ``before_date`` as its cutoff: children
first, short batches, archive unless turned off (turning it off needs the database's name typed
twice), the same keep rules (runs still shown by a chatflow message stay) and the same verify.
Dify's documented ``cleanup-pg`` deletes the four tables in one transaction and leaves a run's
pauses, trigger logs and human-input forms behind; the engine takes them with the run.

What Dify shows afterwards: on the branch that reads logs from Elasticsearch, the run list and a
run's detail come from the cluster; its node traces and the app's Logs page still read PostgreSQL
and show nothing for the deleted runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from dify_maintenance.core import state
from dify_maintenance.core.db import Connector, connection, fetch_all, fetch_one
from dify_maintenance.core.errors import InvalidPolicy, MaintenanceError
from dify_maintenance.core.forms import check_typed_confirmation
from dify_maintenance.core.moments import naive_utc
from dify_maintenance.core.policy import Policy, resolve
from dify_maintenance.core.schema import snapshot
from dify_maintenance.logstore.cluster import DIFY_PREFIX, ClusterConfig, ClusterInfo
from dify_maintenance.logstore.documents import DATA_TYPES
from dify_maintenance.logstore.forms import LOG_CLEANUP_FORM, SETTLE
from dify_maintenance.retention import steps as retention

FAMILY = "workflow_logs"
LAYOUT = "per_tenant"
AFTERWARDS = (
    "after cleanup-pg, Dify (on the branch that reads logs from Elasticsearch) shows the deleted runs in the run list "
    "and run detail from the cluster; their node traces and the app's Logs page still read PostgreSQL and show nothing"
)


class NotValidated(MaintenanceError):
    """No passing validation of this cluster covers the request: nothing may be deleted."""


class NotReadableByDify(MaintenanceError):
    """The cluster, prefix or layout is not where Dify reads: an export, never grounds to delete."""


@dataclass(frozen=True)
class CleanupRequest:
    dry_run: bool
    confirm_database: str | None
    before: datetime
    tenants: tuple[str, ...]
    archive: bool
    confirm_archive_off: str | None


def _checks(values: dict) -> list[str]:
    errors = [] if values["before_date"] else ["before_date: a date is required"]
    if values["archive"] and values["confirm_archive_off"]:
        errors.append("confirm_archive_off is only for a run with archive off")
    return errors


def request_from(values: dict) -> CleanupRequest:
    values = LOG_CLEANUP_FORM.checked(values, "cleanup-pg", _checks)
    return CleanupRequest(
        dry_run=values["dry_run"],
        confirm_database=values["confirm_database"],
        before=datetime.combine(date.fromisoformat(values["before_date"]), datetime.min.time()),
        tenants=tuple(sorted(str(uuid.UUID(t)) for t in values["tenant_ids"] or ())),
        archive=values["archive"],
        confirm_archive_off=values["confirm_archive_off"],
    )


def _covers(v: dict, req: CleanupRequest, needed: set[str]) -> bool:
    tenants_ok = v["tenants"] is None or (req.tenants and set(req.tenants) <= set(v["tenants"]))
    return bool(tenants_ok) and needed <= set(v["data_types"]) and v["window_start"] is None and v["window_end"] >= req.before


def check_readable(info: ClusterInfo, cluster: ClusterConfig) -> None:
    """Refuse unless Dify could read the documents this cleanup relies on."""
    why = info.not_readable_by_dify(DIFY_PREFIX, LAYOUT)
    if why:
        raise NotReadableByDify(
            f"the cluster {cluster.describe()} is not where Dify reads its logs: {'; '.join(why)}. "
            "A migration there is an export; cleanup-pg deletes nothing on its word."
        )


def gate(connector: Connector, req: CleanupRequest, info: ClusterInfo) -> dict:
    """The newest validation of this cluster covering the request, which must have passed."""
    with connection(connector) as conn:
        snap = snapshot(conn)
        state.ensure_schema(conn)
        needed = {name for name, dt in DATA_TYPES.items() if snap.has_table(dt.table)}
        found = fetch_all(
            conn, "logstore/validations.sql", {"cluster_uuid": info.uuid, "prefix": DIFY_PREFIX, "layout": LAYOUT, "limit": 500}
        )
    covering = [v for v in found if _covers(v, req, needed)]
    what = f"rows before {req.before.date()} of {'tenants ' + ', '.join(req.tenants) if req.tenants else 'every tenant'}"
    if not covering:
        raise NotValidated(
            f"no validation of this cluster (uuid {info.uuid}, prefix {DIFY_PREFIX}, {LAYOUT}) covers {what} (all of "
            f"{', '.join(sorted(needed))}, from the oldest row): run dify_log_migration into it without start_date, with "
            "an end_date on or after before_date, until its validation passes"
        )
    newest = covering[0]
    if not newest["passed"]:
        failed = [d["data_type"] for d in newest["summary"]["data_types"] if not d["passed"]]
        raise NotValidated(
            f"the newest validation covering {what} (#{newest['id']}, {newest['run_key']}, "
            f"{newest['validated_at']:%Y-%m-%d %H:%M} UTC) FAILED for {', '.join(failed)}: nothing is deleted until a "
            "migration rerun and a validation pass"
        )
    return {
        "validation_id": newest["id"],
        "validation_run": newest["run_key"],
        "validated_at": newest["validated_at"].isoformat(),
        "cluster": newest["cluster"],
        "cluster_uuid": info.uuid,
        "index_prefix": DIFY_PREFIX,
        "window_end": newest["window_end"].isoformat(),
    }


def policy_for(req: CleanupRequest, variable: str | dict | None = None) -> Policy:
    """The deployment's policy, purging only the workflow-logs family of the asked tenants."""
    return resolve(
        variable, {"families": [FAMILY], "dry_run": req.dry_run, "archive": req.archive, "tenant_ids": list(req.tenants)}
    )


def _check_inputs(conn, req: CleanupRequest) -> str:
    database = fetch_one(conn, "introspect/server.sql")
    check_typed_confirmation(database["database"], req.dry_run, req.confirm_database)
    if not req.archive and not req.dry_run and req.confirm_archive_off != database["database"]:
        raise InvalidPolicy(
            f"archive off: the deleted rows would then exist only in the cluster; type the database name "
            f"{database['database']!r} into confirm_archive_off too (got {req.confirm_archive_off!r}), or leave archive on"
        )
    latest = naive_utc(database["now"]) - SETTLE
    if req.before > latest:
        raise InvalidPolicy(
            f"before_date {req.before.date()} is later than the database's now minus {int(SETTLE.total_seconds() // 3600)} h "
            f"({latest:%Y-%m-%d %H:%M} UTC): rows that recent are still being written and not yet migrated; nothing was changed"
        )
    return database["database"]


def preflight(
    connector: Connector,
    req: CleanupRequest,
    policy: Policy,
    info: ClusterInfo,
    cluster: ClusterConfig,
    proof_source: dict,
    *,
    dag_id: str,
    run_id: str,
    logical_date: datetime,
) -> dict:
    """The typed confirmations and the date, Dify's reading of the cluster, the validation gate,
    then the purge engine's own preflight with ``before_date`` as the cutoff. ``proof_source``
    (the cluster and storage connections) travels in the context to the purge tasks."""
    with connection(connector) as conn:
        database = _check_inputs(conn, req)
    check_readable(info, cluster)
    validated = gate(connector, req, info)
    ctx = retention.preflight(
        connector, policy, dag_id=dag_id, run_id=run_id, logical_date=logical_date, cutoffs={FAMILY: req.before.isoformat()}
    )
    ctx["database"] = database
    ctx["validation"] = validated
    ctx["log_proof"] = {**proof_source, "cluster_uuid": info.uuid, "prefix": DIFY_PREFIX, "layout": LAYOUT}
    ctx["notes"][:0] = [
        f"deleting rows before {req.before.date()}; validation #{validated['validation_id']} of {info.describe()} passed, "
        "and each batch's rows are compared with their documents in the cluster at the moment of deleting"
        + (
            " (a dry run counts by the rules only: rows without a current document are found by the real run, and stay)"
            if req.dry_run
            else ""
        ),
        AFTERWARDS,
    ]
    return ctx
