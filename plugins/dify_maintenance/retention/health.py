"""Health gates checked between batches: a live Dify must never stall behind a purge.

On a red signal the purge pauses and re-checks; if the signal stays red longer than the policy
allows, the purge stops after its last committed batch and the run is reported as deferred.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg

from dify_maintenance.core.db import APPLICATION_NAME, fetch_one
from dify_maintenance.core.policy import Policy

log = logging.getLogger(__name__)


@dataclass
class Gate:
    policy: Policy
    wal_readable: bool = True

    def red_signal(self, conn: psycopg.Connection, table: str) -> str | None:
        """The first signal that says "not now", or None when the database can take a batch."""
        row = fetch_one(conn, "health/signals.sql", {"table": f"public.{table}", "application_name": APPLICATION_NAME})
        assert row is not None
        p = self.policy
        if row["oldest_transaction_seconds"] > p.max_transaction_age_seconds:
            return f"a transaction open for {row['oldest_transaction_seconds']:.0f}s holds back the xmin horizon"
        if row["slot_xmin_age"] > p.max_slot_xmin_age:
            return f"a replication slot holds back the xmin horizon by {row['slot_xmin_age']} transactions"
        if row["replication_lag_seconds"] > p.max_replication_lag_seconds:
            return f"standby replay lag {row['replication_lag_seconds']:.0f}s"
        if row["autovacuum_on_table"]:
            return f"autovacuum is working on {table}"
        if self.wal_readable:
            try:
                with conn.transaction():
                    ready = fetch_one(conn, "health/wal_ready.sql")
            except psycopg.errors.InsufficientPrivilege:
                self.wal_readable = False
                log.info("WAL archiver backlog not readable with this role; that gate is skipped")
                return None
            if ready and ready["ready"] > p.max_wal_ready_files:
                return f"{ready['ready']} WAL segments wait for the archiver"
        return None

    def wait_until_healthy(self, conn: psycopg.Connection, table: str) -> str | None:
        """Pause while a signal is red; the reason to stop when it stays red too long."""
        waited = 0.0
        while (signal := self.red_signal(conn, table)) is not None:
            if waited >= self.policy.health_max_wait_seconds:
                return f"health gate: {signal} (waited {waited:.0f}s)"
            log.warning("pausing before the next batch on %s: %s", table, signal)
            time.sleep(self.policy.health_pause_seconds)
            waited += self.policy.health_pause_seconds
        return None
