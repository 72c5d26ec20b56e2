"""Everything the maintenance page shows, as plain data: read from our own tables in the Dify
database (history, table-size snapshots) and its catalog, plus what Airflow knows (next runs,
paused, the stop switch), which the caller passes in. Every number on the page is in here, so
a test can check each against the database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dify_maintenance.core import catalog, settings
from dify_maintenance.core.db import Connector, connection, fetch_all, fetch_one

MAINTENANCE_DAGS = (
    "dify_retention",
    "dify_pre_upgrade_cleanup",
    "dify_backup",
    "dify_orphaned_files",
    "dify_storage_migration",
    "dify_log_migration",
    "dify_log_cleanup_pg",
    "dify_log_index_retention",
)
PURGING_DAGS = ("dify_retention", "dify_pre_upgrade_cleanup", "dify_log_cleanup_pg")
WEEKS_SHOWN = 12
HISTORY_DAYS = 365
_STATEMENT = re.compile(r"`(CREATE INDEX CONCURRENTLY [^`]+)`")


@dataclass
class AirflowFacts:
    """What Airflow says about our DAGs and switches (read by the caller from its metadata)."""

    dags: dict[str, dict] = field(default_factory=dict)  # dag_id -> next_run, paused
    stop_switch: str = ""
    stop_variable: str = "dify_maintenance_stop"
    base_url: str = "/"


def log_tables() -> list[str]:
    """The tables the retention families purge: "Dify's log tables"."""
    return sorted({t for fam in catalog.FAMILIES for t in catalog.tables_of(fam, keep_curated=False)})


def _deferral_kind(reason: str) -> str:
    text = reason.lower()
    if "missing index" in text:
        return "missing index"
    if "stop switch" in text:
        return "stop switch"
    if "time budget" in text:
        return "time budget"
    if "health gate" in text:
        return "health gate"
    return "other"


def _run_summary(row: dict, facts: AirflowFacts) -> dict:
    rep = row["report"] or {}
    tables = rep.get("tables") or {}
    archived: dict[str, int] = {}
    for t in tables.values():
        archived[t.get("family", "?")] = archived.get(t.get("family", "?"), 0) + int(t.get("archived", 0))
    started = rep.get("started_at")
    duration = (row["recorded_at"] - datetime.fromisoformat(started)).total_seconds() if started else None
    run_id = row["run_key"].partition("/")[2]
    error = rep.get("error") or ""
    return {
        "dag_id": row["dag_id"],
        "run_id": run_id,
        "recorded_at": row["recorded_at"].isoformat(),
        "outcome": row["outcome"],
        "error": error.splitlines()[0] if error else None,
        "dry_run": bool(rep.get("dry_run")),
        "cutoffs": rep.get("cutoffs") or {},
        # a DAG that does not purge says what it did in its own words (documents written, indices dropped)
        "deleted": rep.get("page_counts") or rep.get("per_family") or {},
        "archived": archived if tables else {},
        "summary": rep.get("summary_line"),
        "total_deleted": int(rep.get("total_deleted") or 0),
        "total_would_delete": int(rep.get("total_would_delete") or 0),
        "duration_seconds": round(duration, 1) if duration is not None and duration >= 0 else None,
        "link": f"{facts.base_url}dags/{row['dag_id']}/runs/{run_id}",
    }


def _weekly(rows: list[dict], now: datetime) -> dict:
    start = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        weeks=WEEKS_SHOWN - 1
    )
    weeks = [start + timedelta(weeks=i) for i in range(WEEKS_SHOWN)]
    families = sorted({r["family"] for r in rows})
    series = {f: [0] * len(weeks) for f in families}
    index = {w.date(): i for i, w in enumerate(weeks)}
    for r in rows:
        i = index.get(r["week"].date())
        if i is not None:
            series[r["family"]][i] += int(r["rows"])
    return {"weeks": [w.strftime("%m-%d") for w in weeks], "since": start.isoformat(), "series": series}


def _quarantines(conn, now: datetime) -> list[dict]:
    """Quarantines made by real orphaned-files runs and not emptied since, with when they expire."""
    rows = fetch_all(
        conn, "dashboard/runs_of.sql", {"dag_ids": ["dify_orphaned_files"], "since": now - timedelta(days=HISTORY_DAYS)}
    )
    if not rows:
        return []
    reports = fetch_all(conn, "dashboard/orphan_reports.sql", {"since": now - timedelta(days=HISTORY_DAYS)})
    emptied = {q["quarantine_id"] for r in reports for q in (r["report"].get("quarantines_emptied") or [])}
    waiting = []
    for r in reports:
        rep = r["report"]
        qid = rep.get("quarantine_id")
        if qid and not rep.get("dry_run") and qid not in emptied:
            days = int(rep.get("quarantine_days") or 30)
            waiting.append(
                {
                    "quarantine_id": qid,
                    "created_at": r["recorded_at"].isoformat(),
                    "expires_at": (r["recorded_at"] + timedelta(days=days)).isoformat(),
                }
            )
    return waiting


def collect(connector: Connector, facts: AirflowFacts) -> dict:
    """The page's data. "Now" is the database's clock: history rows and size snapshots are dated
    by it, so ages and windows never mix it with the api-server's clock."""
    with connection(connector) as conn:
        server = fetch_one(conn, "introspect/server.sql")
        database, now = server["database"], server["now"]
        since = now - timedelta(days=HISTORY_DAYS)
        present = fetch_one(conn, "dashboard/has_schema.sql")
        biggest = fetch_all(conn, "dashboard/biggest_tables.sql", {"limit": 10})
        model: dict = {
            "generated_at": now.isoformat(),
            "database": database,
            "has_history": bool(present["history"]),
            "biggest_tables": [
                {k: r[k] for k in ("table_name", "total_bytes", "heap_bytes", "live_rows", "dead_rows")}
                | {"dead_bytes": int(r["dead_bytes"] or 0)}
                for r in biggest
            ],
            "stop_switch": {
                "on": settings.stop_requested(facts.stop_switch),
                "value": facts.stop_switch,
                "variable": facts.stop_variable,
            },
        }
        latest = fetch_all(conn, "dashboard/latest_runs.sql") if present["history"] else []
        by_dag = {r["dag_id"]: r for r in latest}
        succeeded = {r["dag_id"]: r for r in fetch_all(conn, "dashboard/latest_success.sql")} if present["history"] else {}
        model["runs"] = []
        for dag_id in MAINTENANCE_DAGS:
            entry = {"dag_id": dag_id, **(facts.dags.get(dag_id) or {})}
            if dag_id in by_dag:
                entry["last"] = _run_summary(by_dag[dag_id], facts)
                success = succeeded.get(dag_id)
                if success and success["id"] != by_dag[dag_id]["id"]:
                    entry["last_success"] = _run_summary(success, facts)
            model["runs"].append(entry)
        weekly = (
            fetch_all(conn, "dashboard/purged_per_week.sql", {"dag_ids": list(PURGING_DAGS), "since": since})
            if present["history"]
            else []
        )
        model["purged_weekly"] = _weekly(weekly, now)
        tables = log_tables()
        points = fetch_all(conn, "dashboard/size_series.sql", {"tables": tables, "since": since}) if present["sizes"] else []
        marks = (
            fetch_all(conn, "dashboard/runs_of.sql", {"dag_ids": ["dify_retention"], "since": since})
            if present["history"]
            else []
        )
        model["log_size"] = {
            "tables": tables,
            "snapshots": len(points),
            "points": [{"taken_at": p["taken_at"].isoformat(), "bytes": int(p["bytes"]), "rows": int(p["rows"])} for p in points],
            "retention_runs": [
                {"at": m["recorded_at"].isoformat(), "outcome": m["outcome"], "deleted": int(m["deleted"])} for m in marks
            ],
        }
        retention = by_dag.get("dify_retention")
        model["deferred"] = []
        if retention:
            rep = retention["report"]
            for family, reason in (rep.get("deferred") or {}).items():
                found = _STATEMENT.search(reason)
                model["deferred"].append(
                    {
                        "family": family,
                        "kind": _deferral_kind(reason),
                        "reason": reason,
                        "statement": found.group(1) if found else None,
                    }
                )
            model["unindexed_lookups"] = rep.get("unindexed_lookups") or []
        backup = fetch_one(conn, "dashboard/newest_backup.sql") if present["history"] else None
        model["backup"] = None
        if backup:
            rep = backup["report"]
            model["backup"] = {
                "backup_id": rep.get("backup_id"),
                "verified": bool(rep.get("verified")),
                "total_bytes": int(rep.get("total_bytes") or 0),
                "recorded_at": backup["recorded_at"].isoformat(),
                "age_hours": round((now - backup["recorded_at"]).total_seconds() / 3600, 1),
            }
        orphans = by_dag.get("dify_orphaned_files")
        model["orphans"] = None
        if orphans:
            rep = orphans["report"]
            model["orphans"] = {
                "recorded_at": orphans["recorded_at"].isoformat(),
                "dry_run": bool(rep.get("dry_run")),
                "candidates": sum((rep.get("candidates") or {}).values()),
                "bytes": sum((rep.get("candidate_bytes") or {}).values()),
            }
        model["quarantines"] = _quarantines(conn, now) if present["history"] else []
        upgrade = by_dag.get("dify_pre_upgrade_cleanup")
        model["pre_upgrade"] = None
        if upgrade:
            rep = upgrade["report"]
            model["pre_upgrade"] = {
                "recorded_at": upgrade["recorded_at"].isoformat(),
                "dry_run": bool(rep.get("dry_run")),
                "target_version": rep.get("target_version"),
                "rows": int(rep.get("total_would_delete") or rep.get("total_deleted") or 0),
            }
    return model
