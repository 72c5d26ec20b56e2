"""Our bookkeeping in the ``dify_maintenance`` schema: runs, the claim, progress, a dry run's
ledger, and the history every run ends in (with its outcome and first error).

Progress rows are written in the same transaction as the batch they describe, so after a crash
(even SIGKILL) the cursor and the deleted rows always agree and a retry neither redoes nor skips.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from dify_maintenance.core.db import execute, fetch_all, fetch_one
from dify_maintenance.core.errors import AnotherRunActive

LOCK_NAME = "dify-maintenance"
# A stable 63-bit key for pg_advisory_xact_lock, derived from our name rather than invented.
LOCK_KEY = zlib.crc32(LOCK_NAME.encode()) << 16
# A claim whose holder stopped heartbeating this long ago belongs to a dead run.
STALE_CLAIM_SECONDS = 6 * 3600


def ensure_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        execute(conn, "state/ensure_schema.sql")


def record_run(
    conn: psycopg.Connection, *, run_key: str, dag_id: str, run_id: str, cutoffs: dict, policy: dict, dify_version: str
) -> dict:
    """Store the run's cutoffs once; on a retry return the ones stored first."""
    with conn.transaction():
        row = fetch_one(
            conn,
            "state/record_run.sql",
            {
                "run_key": run_key,
                "dag_id": dag_id,
                "run_id": run_id,
                "cutoffs": Jsonb(cutoffs),
                "policy": Jsonb(policy),
                "dify_version": dify_version,
            },
        )
    assert row is not None
    return row


def recorded_run(conn: psycopg.Connection, run_key: str) -> dict | None:
    """The run as its first try recorded it, or None for a new run."""
    return fetch_one(conn, "state/get_run.sql", {"run_key": run_key})


def ran_before(conn: psycopg.Connection, dag_id: str, run_key: str) -> bool:
    """True when another run of ``dag_id`` was recorded on this database (retries of ``run_key`` do not count)."""
    row = fetch_one(conn, "state/earlier_run.sql", {"dag_id": dag_id, "run_key": run_key})
    return bool(row and row["found"])


def finish_run(conn: psycopg.Connection, run_key: str, outcome: str) -> None:
    with conn.transaction():
        execute(conn, "state/finish_run.sql", {"run_key": run_key, "outcome": outcome})


def claim(conn: psycopg.Connection, run_key: str, stale_seconds: int = STALE_CLAIM_SECONDS) -> None:
    """Hold the database for ``run_key`` or fail naming the run that holds it."""
    params = {"lock_key": LOCK_KEY, "lock_name": LOCK_NAME, "run_key": run_key, "stale_seconds": stale_seconds}
    with conn.transaction():
        won = fetch_one(conn, "state/claim.sql", params)
    if won is None:
        holder = fetch_one(conn, "state/claim_holder.sql", {"lock_name": LOCK_NAME})
        who = holder["run_key"] if holder else "another run"
        raise AnotherRunActive(
            f"another maintenance run is active on this database ({who}, last heartbeat "
            f"{holder['heartbeat_at'] if holder else 'unknown'}); wait for it or fail it in Airflow"
        )


def heartbeat(conn: psycopg.Connection, run_key: str) -> None:
    """Refresh the claim inside the caller's transaction; raise if the run lost it."""
    if fetch_one(conn, "state/heartbeat.sql", {"lock_name": LOCK_NAME, "run_key": run_key}) is None:
        raise AnotherRunActive(f"run {run_key} no longer holds the maintenance claim; stopping")


# How often a running purge writes its heartbeat into the claim row (the claim goes stale only
# after STALE_CLAIM_SECONDS); in between, every batch only reads the row.
HEARTBEAT_EVERY_SECONDS = 30.0
_refreshed: dict[str, float] = {}


def check_in(conn: psycopg.Connection, run_key: str, holds: bool | None = None) -> None:
    """Inside every batch: prove the run still holds the claim. Writing the heartbeat in every
    batch made families purged in parallel take turns on the claim row's lock (each batch held it
    until its commit), so the write happens every HEARTBEAT_EVERY_SECONDS and batches only read
    (``holds``: the caller read it already, with its own statement)."""
    now = time.monotonic()
    if now - _refreshed.get(run_key, float("-inf")) >= HEARTBEAT_EVERY_SECONDS:
        heartbeat(conn, run_key)
        _refreshed[run_key] = now
        return
    if holds is None:
        holds = fetch_one(conn, "state/holds_claim.sql", {"lock_name": LOCK_NAME, "run_key": run_key}) is not None
    if not holds:
        raise AnotherRunActive(f"run {run_key} no longer holds the maintenance claim; stopping")


def forget_ledger(conn: psycopg.Connection, run_key: str) -> None:
    """A finished run's dry-run ledger and its record of deleted keys."""
    with conn.transaction():
        execute(conn, "state/forget_ledger.sql", {"run_key": run_key})
        execute(conn, "state/forget_deleted_keys.sql", {"run_key": run_key})


def release(conn: psycopg.Connection, run_key: str) -> None:
    with conn.transaction():
        execute(conn, "state/release.sql", {"lock_name": LOCK_NAME, "run_key": run_key})


@dataclass
class Progress:
    family: str
    stage: str
    cursor: dict | None = None
    done: bool = False
    batches: int = 0
    seconds: float = 0.0
    counters: dict | None = None

    def counter(self, table: str) -> dict:
        self.counters = self.counters or {}
        return self.counters.setdefault(table, {"matched": 0, "deleted": 0, "archived": 0, "kept": {}})


def load_progress(conn: psycopg.Connection, run_key: str, family: str | None = None) -> dict[str, Progress]:
    rows = fetch_all(conn, "state/get_progress.sql", {"run_key": run_key, "family": family}, family=family)
    return {
        row["stage"]: Progress(
            family=row["family"],
            stage=row["stage"],
            cursor=row["cursor"],
            done=row["done"],
            batches=row["batches"],
            seconds=row["seconds"],
            counters=row["counters"],
        )
        for row in rows
    }


def save_progress(
    conn: psycopg.Connection, run_key: str, progress: Progress, deleted: dict[str, list[str]] | None = None
) -> None:
    """The stage's cursor and counters; with ``deleted`` (table -> keys) also the keys of the rows
    the batch deleted that other rows may name (in the same statement)."""
    extra = {}
    if deleted is not None:
        pairs = [(table, key) for table, keys in deleted.items() for key in keys]
        extra = {"deleted_tables": [t for t, _ in pairs], "deleted_keys": [k for _, k in pairs]}
    execute(
        conn,
        "state/save_batch.sql" if deleted is not None else "state/save_progress.sql",
        {
            **extra,
            "run_key": run_key,
            "family": progress.family,
            "stage": progress.stage,
            "cursor": Jsonb(progress.cursor) if progress.cursor is not None else None,
            "done": progress.done,
            "batches": progress.batches,
            "seconds": progress.seconds,
            "counters": Jsonb(progress.counters or {}),
        },
    )


def _has_table(conn: psycopg.Connection, table: str) -> bool:
    row = fetch_one(conn, "state/has_table.sql", {"qualified": f"dify_maintenance.{table}"})
    return bool(row and row["found"])


def has_history(conn: psycopg.Connection) -> bool:
    return _has_table(conn, "history")


def has_runs(conn: psycopg.Connection) -> bool:
    return _has_table(conn, "runs")


def recorded_families(conn: psycopg.Connection) -> list[dict]:
    """Every recorded run with the families it purged."""
    return fetch_all(conn, "state/recorded_families.sql")


def append_history(conn: psycopg.Connection, *, run_key: str, dag_id: str, outcome: str, report: dict) -> int:
    with conn.transaction():
        row = fetch_one(
            conn,
            "state/append_history.sql",
            {"run_key": run_key, "dag_id": dag_id, "outcome": outcome, "report": Jsonb(report)},
        )
    assert row is not None
    return int(row["id"])


# ---------------------------------------------------------------- the end of a run


def first_error(errors: dict[str, str]) -> str | None:
    """The error of the first task that failed, in the DAG's task order, as "task: error"."""
    return next((f"{task}: {error}" for task, error in errors.items()), None)


def record(conn: psycopg.Connection, report: dict) -> int:
    """Append to the history table, close the run and give the database back."""
    key = report["run_key"]
    history_id = append_history(conn, run_key=key, dag_id=report["dag_id"], outcome=report["outcome"], report=report)
    finish_run(conn, key, report["outcome"])
    forget_ledger(conn, key)
    release(conn, key)
    return history_id
