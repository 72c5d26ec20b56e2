"""cleanup-pg: delete migrated workflow logs from PostgreSQL, and only those.

The gate: the newest validation whose window covers the request (every data type, the tenants
asked for, from the oldest row up to at least ``before_date``) must have passed. Validation
proved every row of that window present in the cluster by id, so a row older than
``before_date`` that the purge may delete was in the cluster when it was validated; rows written
since are newer than the validation's window. Then the purge engine runs the workflow-logs family
with ``before_date`` as its cutoff: children first, short batches, archive unless turned off,
the same keep rules (runs still shown by a chatflow message stay) and the same verify.

Dify's documented ``cleanup-pg`` deletes the four tables in one transaction and leaves a run's
pauses, trigger logs and human-input forms behind; the engine takes them with the run (into the
archive when it is on), since nothing would show them once the run is gone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from dify_maintenance.core import state
from dify_maintenance.core.db import Connector, connection, fetch_all, fetch_one
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.core.forms import Field, Form, check_typed_confirmation
from dify_maintenance.core.policy import CONFIRM_DATABASE_FIELD, UUID_RE, Policy, resolve
from dify_maintenance.core.schema import snapshot
from dify_maintenance.logstore.documents import DATA_TYPES
from dify_maintenance.retention import steps as retention

FAMILY = "workflow_logs"


class NotValidated(MaintenanceError):
    """No passing validation proves the rows present in the cluster: nothing may be deleted."""


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
    ),
)


@dataclass(frozen=True)
class CleanupRequest:
    dry_run: bool
    confirm_database: str | None
    before: datetime
    tenants: tuple[str, ...]
    archive: bool


def request_from(values: dict) -> CleanupRequest:
    values = LOG_CLEANUP_FORM.checked(
        values, "cleanup-pg", lambda v: [] if v["before_date"] else ["before_date: a date is required"]
    )
    return CleanupRequest(
        dry_run=values["dry_run"],
        confirm_database=values["confirm_database"],
        before=datetime.combine(date.fromisoformat(values["before_date"]), datetime.min.time()),
        tenants=tuple(sorted(str(uuid.UUID(t)) for t in values["tenant_ids"] or ())),
        archive=values["archive"],
    )


def _covers(v: dict, req: CleanupRequest, needed: set[str]) -> bool:
    tenants_ok = v["tenants"] is None or (req.tenants and set(req.tenants) <= set(v["tenants"]))
    return bool(tenants_ok) and needed <= set(v["data_types"]) and v["window_start"] is None and v["window_end"] >= req.before


def gate(connector: Connector, req: CleanupRequest) -> dict:
    """The newest validation covering the request, which must have passed; else a clear refusal."""
    with connection(connector) as conn:
        snap = snapshot(conn)
        state.ensure_schema(conn)
        needed = {name for name, dt in DATA_TYPES.items() if snap.has_table(dt.table)}
        found = fetch_all(conn, "logstore/validations.sql", {"limit": 500})
    covering = [v for v in found if _covers(v, req, needed)]
    what = f"rows before {req.before.date()} of {'tenants ' + ', '.join(req.tenants) if req.tenants else 'every tenant'}"
    if not covering:
        raise NotValidated(
            f"no validation covers {what} (all of {', '.join(sorted(needed))}, from the oldest row): run dify_log_migration "
            "without start_date, with an end_date on or after before_date, until its validation passes"
        )
    newest = covering[0]
    if not newest["passed"]:
        failed = [d["data_type"] for d in newest["summary"]["data_types"] if not d["passed"]]
        raise NotValidated(
            f"the newest validation covering {what} (#{newest['id']}, {newest['run_key']}) FAILED for {', '.join(failed)}: "
            "nothing is deleted until a migration rerun and a validation pass"
        )
    return {
        "validation_id": newest["id"],
        "validation_run": newest["run_key"],
        "validated_at": newest["validated_at"].isoformat(),
        "cluster": newest["cluster"],
        "index_prefix": newest["index_prefix"],
        "window_end": newest["window_end"].isoformat(),
    }


def policy_for(req: CleanupRequest, variable: str | dict | None = None) -> Policy:
    """The deployment's policy, purging only the workflow-logs family of the asked tenants."""
    return resolve(
        variable, {"families": [FAMILY], "dry_run": req.dry_run, "archive": req.archive, "tenant_ids": list(req.tenants)}
    )


def preflight(
    connector: Connector, req: CleanupRequest, policy: Policy, *, dag_id: str, run_id: str, logical_date: datetime
) -> dict:
    """The typed confirmation, the validation gate, then the purge engine's own preflight with
    ``before_date`` as the cutoff (not the policy's days)."""
    with connection(connector) as conn:
        database = fetch_one(conn, "introspect/server.sql")["database"]
    check_typed_confirmation(database, req.dry_run, req.confirm_database)
    validated = gate(connector, req)
    ctx = retention.preflight(
        connector, policy, dag_id=dag_id, run_id=run_id, logical_date=logical_date, cutoffs={FAMILY: req.before.isoformat()}
    )
    ctx["database"] = database
    ctx["validation"] = validated
    ctx["notes"].insert(
        0, f"deleting rows before {req.before.date()} proved in the cluster by validation #{validated['validation_id']}"
    )
    return ctx
