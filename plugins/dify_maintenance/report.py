"""The run's report: one small dict for XCom and history, and a table a person can read."""

from __future__ import annotations

from dify_maintenance import state
from dify_maintenance.db import Connector, connection
from dify_maintenance.orphans import render_lines


def build(ctx: dict, plan: dict, gate: dict, results: list[dict], vacuumed: dict, verified: dict | None, outcome: str) -> dict:
    tables: dict[str, dict] = {}
    for result in results:
        for table, c in result["tables"].items():
            row = tables.setdefault(
                table,
                {
                    "family": result["family"],
                    "matched": 0,
                    "deleted": 0,
                    "would_delete": 0,
                    "archived": 0,
                    "orphans": 0,
                    "kept": {},
                },
            )
            for key in ("matched", "deleted", "would_delete", "archived", "orphans"):
                row[key] += int(c.get(key, 0))
            for reason, n in c.get("kept", {}).items():
                row["kept"][reason] = row["kept"].get(reason, 0) + n
    for table, row in tables.items():
        size = plan.get("tables", {}).get(table, {})
        row["bytes_before"] = vacuumed.get(table, {}).get("bytes_before", size.get("bytes"))
        row["bytes_after"] = vacuumed.get(table, {}).get("bytes_after")
    dry_run = bool(ctx["policy"].get("dry_run"))
    deferred = {r["family"]: r["deferred"] for r in results if r.get("deferred")}
    if outcome == "success" and deferred:
        outcome = "deferred"
    return {
        "run_key": ctx["run_key"],
        "outcome": outcome,
        "dry_run": dry_run,
        "dify_version": ctx["dify_version"],
        "cutoffs": ctx["cutoffs"],
        "archive": gate.get("archive"),
        "families": {
            r["family"]: {"batches": r["batches"], "seconds": r["seconds"], "walks": r["walks"], "notes": r["notes"]}
            for r in results
        },
        "tables": tables,
        "total_deleted": sum(r["deleted"] for r in tables.values()),
        "total_would_delete": sum(r["would_delete"] for r in tables.values()),
        "verify": {"failed": verified["failed"], "checks": len(verified["checks"])} if verified else None,
        "curated_kept": "saved messages and annotations are kept (keep_curated); messages and conversations they belong to stay"
        if ctx["policy"].get("keep_curated")
        else "curated content purged by policy",
        "notes": ctx.get("notes", []),
        "unindexed_lookups": ctx.get("unindexed_lookups", []),
        "deferred": deferred,
        "indexes_built": [name for r in results for name in r.get("indexes", {}).get("built", [])],
        "vacuum": vacuumed,
    }


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1_048_576:.1f}"


def render_text(report: dict) -> str:
    """A fixed-width table for the task log and the demo."""
    dry = report["dry_run"]
    head = "would delete" if dry else "deleted"
    lines = [
        f"Dify retention report  {report['run_key']}",
        f"outcome: {report['outcome']}   Dify {report['dify_version']}   archive: {report['archive']}"
        + ("   DRY RUN" if dry else ""),
        "cutoffs: " + ", ".join(f"{k} < {v}" for k, v in report["cutoffs"].items()),
        "",
        f"{'table':36} {'family':14} {'matched':>9} {head:>12} {'archived':>9} {'orphans':>8} "
        f"{'MB before':>10} {'MB after':>9}  kept (why)",
        "-" * 140,
    ]
    for table, row in sorted(report["tables"].items(), key=lambda kv: (kv[1]["family"], kv[0])):
        kept = "; ".join(f"{n} {reason}" for reason, n in row["kept"].items()) or ""
        lines.append(
            f"{table:36} {row['family']:14} {row['matched']:>9} {row['would_delete' if dry else 'deleted']:>12} "
            f"{row['archived']:>9} {row['orphans']:>8} {_mb(row['bytes_before']):>10} {_mb(row['bytes_after']):>9}  {kept}"
        )
    lines.append("-" * 140)
    total = report["total_would_delete"] if dry else report["total_deleted"]
    lines.append(f"rows {head}: {total}")
    for fam, info in report["families"].items():
        lines.append(
            f"{fam}: {info['batches']} batches in {info['seconds']:.2f}s; "
            + "; ".join(f"{k} by {v}" for k, v in info["walks"].items())
        )
    for table, v in (report.get("vacuum") or {}).items():
        if "dead_before" in v:
            lines.append(
                f"vacuum {table}: dead tuples {v['dead_before']} -> {v['dead_after']}, reusable space "
                f"{_mb(v.get('reclaimable_after'))} MB ({v.get('method', 'statistics')}); a rewrite returns it to the OS"
            )
    if report["verify"]:
        lines.append(f"verify: {report['verify']['checks']} checks, {report['verify']['failed']} failed")
    lines.append(f"curated content: {report['curated_kept']}")
    for fam, reason in report.get("deferred", {}).items():
        lines.append(f"DEFERRED {fam}: {reason}")
    if report.get("files"):
        lines.append("")
        lines.extend(render_lines(report["files"]))
    for name in report.get("indexes_built", []):
        lines.append(f"index built for this run: {name}")
    for name in report.get("indexes_dropped", []):
        lines.append(f"temporary index dropped: {name}")
    for note in report["notes"]:
        lines.append(f"note: {note}")
    for lookup in report.get("unindexed_lookups", []):
        lines.append(f"warning: {lookup}")
    return "\n".join(lines)


def record(connector: Connector, ctx: dict, report: dict) -> int:
    """Append to the history table, close the run and give the database back."""
    with connection(connector) as conn:
        history_id = state.append_history(
            conn, run_key=ctx["run_key"], dag_id=ctx["dag_id"], outcome=report["outcome"], report=report
        )
        state.finish_run(conn, ctx["run_key"], report["outcome"])
        state.release(conn, ctx["run_key"])
    return history_id
