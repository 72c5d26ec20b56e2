"""Run the retention engine on one database the way the DAG maps it (workflow logs and messages
in parallel, then end users). Imported by ``bench/purge.py`` for this tree's engine, and run as a
script with another tree's ``plugins`` on ``PYTHONPATH`` for the engine as it was (the baseline
"today's engine" of the ratios), so both are measured on copies of the same template.

    PYTHONPATH=<tree>/plugins python bench/engine_run.py URL CUTOFF_ISO DAYS [--archive] [--one-shot]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from dify_maintenance.core import catalog
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.errors import VerificationFailed
from dify_maintenance.core.policy import MAX_BATCH, resolve
from dify_maintenance.retention import steps as retention
from dify_maintenance.retention import verify
from dify_maintenance.storage.stores import StoreConfig

# Our batches aim below the 0.5 s transaction target (the policy default aims at 0.5 s itself).
BATCH_TARGET = 0.3
# The results of the last run in this interpreter (the benchmark prints their statements per batch).
LAST_RESULTS: list[dict] = []


def run_engine(url: str, cutoff: datetime, days: int, archive: bool, one_shot: bool = False) -> bool:
    """True when every family finished. ``one_shot``: the same statements with one batch of up to
    MAX_BATCH roots per root table and no time limits: the correct set-based delete as a bound."""
    settings: dict = {"archive": archive, "build_missing_indexes": True, "time_budget_minutes": 0}
    settings["batch_target_seconds"] = BATCH_TARGET
    if one_shot:
        settings.update(batch_size=MAX_BATCH, adaptive_batches=False, statement_timeout_ms=3_600_000)
    days_keys = {"workflow_logs_days": days, "messages_days": days, "end_users_days": days}
    pol = resolve(None, {**days_keys, **settings})
    connector = url_connector(url)
    ctx = retention.preflight(
        connector, pol, dag_id="bench", run_id=f"bench-{uuid.uuid4().hex[:8]}", logical_date=cutoff + timedelta(days=days)
    )
    with tempfile.TemporaryDirectory(prefix="dm-bench-archive-") as root:
        store = StoreConfig("fs", {"root": root}) if archive else None
        first = [f for f in ctx["families"] if not catalog.family(f).after]
        with ThreadPoolExecutor(max_workers=len(first)) as pool:  # as the DAG maps them
            results = list(pool.map(lambda f: retention.run_purge(connector, ctx, f, pol, store), first))
        for fam in ctx["families"]:
            if fam not in first:
                results.append(retention.run_purge(connector, ctx, fam, pol, store))
        # (an engine before this release called it drop_temporary_indexes)
        drop = getattr(retention, "drop_built_indexes", None) or retention.drop_temporary_indexes
        drop(connector, pol)
        LAST_RESULTS[:] = results
        try:  # as the DAG does: verify also repairs what a live write raced into (archive on)
            verify.verify(connector, ctx, pol, results, store)
        except VerificationFailed as exc:
            print(f"      verify: {exc}"[:300], flush=True)
            return False
    return not any(r.get("deferred") for r in results)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("cutoff")
    parser.add_argument("days", type=int)
    parser.add_argument("--archive", action="store_true")
    parser.add_argument("--one-shot", action="store_true")
    args = parser.parse_args()
    done = run_engine(args.url, datetime.fromisoformat(args.cutoff), args.days, args.archive, args.one_shot)
    return 0 if done else 3


if __name__ == "__main__":
    sys.exit(main())
