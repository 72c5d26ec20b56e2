"""The run's report: one small dict for XCom and history, and a table a person can read."""

from __future__ import annotations

from dify_maintenance.core import state
from dify_maintenance.core.catalog import FAMILY_NAMES

TITLES = {
    "dify_retention": "Dify retention report",
    "dify_pre_upgrade_cleanup": "Dify pre-upgrade cleanup report",
    "dify_log_cleanup_pg": "Dify cleanup-pg report (workflow logs proved in the log cluster)",
}
# The task log pane in Airflow's UI shows about this many characters without wrapping.
WIDTH = 110


def build(
    ctx: dict,
    plan: dict,
    gate: dict,
    results: list[dict],
    vacuumed: dict,
    verified: dict | None,
    outcome: str,
    errors: dict[str, str] | None = None,
) -> dict:
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
            for key in ("orphans_out_of_scope", "restored", "dangling"):
                if c.get(key):
                    row[key] = row.get(key, 0) + int(c[key])
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
    errors = dict(errors or {})
    counter = "would_delete" if dry_run else "deleted"
    per_family: dict[str, int] = {}
    for row in tables.values():
        per_family[row["family"]] = per_family.get(row["family"], 0) + row[counter]
    return {
        "run_key": ctx["run_key"],
        "dag_id": ctx.get("dag_id", ctx["run_key"].partition("/")[0]),
        "outcome": outcome,
        "dry_run": dry_run,
        "dify_version": ctx["dify_version"],
        "started_at": ctx.get("started_at"),
        "cutoffs": ctx["cutoffs"],
        "archive": gate.get("archive"),
        "families": {
            r["family"]: {
                "batches": r["batches"],
                "seconds": r["seconds"],
                "walks": r["walks"],
                "notes": r["notes"],
                "statements_per_batch": r.get("statements_per_batch", 0),
            }
            for r in results
        },
        "per_family": per_family,
        "tables": tables,
        "total_deleted": sum(r["deleted"] for r in tables.values()),
        "total_would_delete": sum(r["would_delete"] for r in tables.values()),
        "total_archived": sum(r["archived"] for r in tables.values()),
        "verify": {
            "failed": verified["failed"],
            "checks": len(verified["checks"]),
            "restored": {t: n for c in verified["checks"] for t, n in c.get("restored", {}).items()},
        }
        if verified
        else None,
        "curated_kept": "saved messages and annotations are kept (keep_curated); messages and conversations they belong to stay"
        if ctx["policy"].get("keep_curated")
        else "curated content purged by policy",
        "notes": ctx.get("notes", []),
        "unindexed_lookups": ctx.get("unindexed_lookups", []),
        "deferred": deferred,
        "errors": errors,
        "error": state.first_error(errors),
        "indexes_built": [name for r in results for name in r.get("indexes", {}).get("built", [])],
        "messages_scope": ctx["policy"].get("messages_scope", "message"),
        "statements_per_batch": max((r.get("statements_per_batch", 0) for r in results), default=0),
        "repaired_after_commit": sum(r.get("repaired_after_commit", 0) for r in results),
        "dangling_after_commit": [row for r in results for row in r.get("dangling_after_commit", [])][:20],
        "vacuum": vacuumed,
        **_proof(results, tables),
    }


def _proof(results: list[dict], tables: dict[str, dict]) -> dict:
    """cleanup-pg's check at the moment of deleting: rows compared, roots kept for it, by id."""
    proofs = [r["proof"] for r in results if r.get("proof")]
    if not proofs:
        return {}
    reason = proofs[0]["reason"]
    kept = sum(int(row["kept"].get(reason, 0)) for row in tables.values())
    return {
        "proof": {
            "checked": sum(p["checked"] for p in proofs),
            "kept": kept,
            "reason": reason,
            "not_proved": [x for p in proofs for x in p["not_proved"]][:20],
        },
        "page_counts": {
            "deleted": sum(r["deleted"] for r in tables.values()),
            "kept: no current document": kept,
        },
    }


def _title(report: dict) -> str:
    return TITLES.get(report.get("dag_id", ""), "Dify maintenance report")


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1_048_576:.1f}"


def _count(n: int) -> str:
    return f"{n:,}"


def _in_family_order(by_family: dict) -> list[tuple]:
    """Items keyed by family in the catalog's order (history's JSON keeps its own key order)."""
    order = {name: i for i, name in enumerate(FAMILY_NAMES)}
    return sorted(by_family.items(), key=lambda kv: order.get(kv[0], len(order)))


def summary_lines(report: dict) -> list[str]:
    """What a person needs first: the outcome, what was deleted per family, the cutoffs, what
    was deferred and why, the first error. Also the run's note on the run page."""
    dry = report["dry_run"]
    verb = "would delete" if dry else "deleted"
    total = report["total_would_delete"] if dry else report["total_deleted"]
    head = f"{report['outcome'].upper()}" + (" (DRY RUN: nothing was changed)" if dry else "")
    head += f" · Dify {report['dify_version']}"
    lines = [head]
    families = ", ".join(f"{fam} {_count(n)}" for fam, n in _in_family_order(report.get("per_family", {})))
    archived = "" if dry else f"; archived {_count(report.get('total_archived', 0))}"
    lines.append(f"{verb} {_count(total)} rows" + (f" ({families})" if families else "") + archived)
    if report["cutoffs"]:
        lines.append(
            "older than: " + ", ".join(f"{k} {v[:16].replace('T', ' ')}" for k, v in _in_family_order(report["cutoffs"]))
        )
    if proof := report.get("proof"):
        lines.append(
            f"documents checked in the log cluster at the moment of deleting: {_count(proof['checked'])} rows; "
            f"{_count(proof['kept'])} roots kept without a current document"
        )
    for fam, reason in report.get("deferred", {}).items():
        lines.append(f"DEFERRED {fam}: {reason} (the next run continues)")
    if report.get("error"):
        lines.append(f"error: {report['error']}")
    return lines


def index_line(report: dict) -> str | None:
    """The unindexed lookups, folded into one line with what to do about them (the full list
    with the statements stays in the report's ``unindexed_lookups``)."""
    lookups = report.get("unindexed_lookups") or []
    if not lookups:
        return None
    return (
        f"indexes: {len(lookups)} lookups have no supporting index (each batch scans a small table; a big one gets "
        "its index built, unless build_missing_indexes is off)"
    )


def _wrap(line: str, indent: str = "  ") -> list[str]:
    """Long lines broken at spaces to fit the log pane."""
    out: list[str] = []
    while len(line) > WIDTH:
        cut = line.rfind(" ", 0, WIDTH)
        cut = cut if cut > len(indent) else WIDTH
        out.append(line[:cut])
        line = indent + line[cut:].lstrip()
    out.append(line)
    return out


def render_text(report: dict, title: str | None = None) -> str:
    """The readable report: summary first, then a table that fits the log pane, then details."""
    dry = report["dry_run"]
    head = "would delete" if dry else "deleted"
    title = title or _title(report)
    lines = [f"{title}  {report['run_key']}", "=" * min(WIDTH, len(title) + 2 + len(report["run_key"]))]
    for line in summary_lines(report):
        lines.extend(_wrap(line))
    lines.append(f"archive: {report['archive']}")
    if (folded := index_line(report)) is not None:
        lines.extend(_wrap(folded))
    lines += [
        "",
        f"{'table':34} {'family':13} {'matched':>9} {head:>12} {'archived':>9} {'orphans':>7} {'MB before':>9} {'MB after':>8}",
        "-" * WIDTH,
    ]
    kept_lines: list[str] = []
    for table, row in sorted(report["tables"].items(), key=lambda kv: (kv[1]["family"], kv[0])):
        lines.append(
            f"{table[:34]:34} {row['family'][:13]:13} {row['matched']:>9} {row['would_delete' if dry else 'deleted']:>12} "
            f"{row['archived']:>9} {row['orphans']:>7} {_mb(row['bytes_before']):>9} {_mb(row['bytes_after']):>8}"
        )
        if row["kept"]:
            kept_lines.append(f"kept in {table}: " + "; ".join(f"{n} {reason}" for reason, n in row["kept"].items()))
    lines.append("-" * WIDTH)
    for line in kept_lines:
        lines.extend(_wrap(line))
    for fam, info in report["families"].items():
        per = f", at most {info['statements_per_batch']} statements a batch" if info.get("statements_per_batch") else ""
        lines.extend(_wrap(f"{fam}: {info['batches']} batches in {info['seconds']:.2f}s{per}"))
        for k, v in info["walks"].items():
            lines.extend(_wrap(f"  walk {k} by {v}", "    "))
    for table, v in (report.get("vacuum") or {}).items():
        if "dead_before" in v:
            lines.extend(
                _wrap(
                    f"vacuum {table}: dead tuples {v['dead_before']} -> {v['dead_after']}, reusable "
                    f"{_mb(v.get('reclaimable_after'))} MB ({v.get('method', 'statistics')}); a rewrite returns it to the OS"
                )
            )
    if report["verify"]:
        lines.append(f"verify: {report['verify']['checks']} checks, {report['verify']['failed']} failed")
        if restored := report["verify"].get("restored"):
            lines.extend(
                _wrap(
                    "verify put back from the archive parents a live Dify wrote under after the purge deleted them: "
                    + ", ".join(f"{n} {t}" for t, n in sorted(restored.items()))
                )
            )
    lines.extend(_wrap(f"curated content: {report['curated_kept']}"))
    if "messages" in report.get("per_family", {}):
        scope = report.get("messages_scope", "message")
        lines.extend(
            _wrap(
                "messages expire "
                + (
                    "by conversation: a conversation's messages stay while any of them is newer than the cutoff"
                    if scope == "conversation"
                    else "each by its own age (messages_scope: message, as Dify's own cleanup)"
                )
            )
        )
    out_of_scope = {t: row["orphans_out_of_scope"] for t, row in report["tables"].items() if row.get("orphans_out_of_scope")}
    if out_of_scope:
        lines.extend(
            _wrap(
                "orphans outside this run's tenants/apps, left: " + ", ".join(f"{n} {t}" for t, n in sorted(out_of_scope.items()))
            )
        )
    if report.get("repaired_after_commit"):
        lines.extend(
            _wrap(
                f"put back right after their batch: {report['repaired_after_commit']} rows a live Dify named in the "
                "instant before the batch committed (from the batch's archive)"
            )
        )
    for row in report.get("dangling_after_commit") or []:
        lines.extend(_wrap(f"named by a write after its batch, archive off: {row}"))
    for why in (report.get("proof") or {}).get("not_proved", []):
        lines.extend(_wrap(f"kept, not proved in the log cluster: {why}"))
    for task_id, error in (report.get("errors") or {}).items():
        lines.extend(_wrap(f"error in {task_id}: {error}"))
    if report.get("files_lines"):  # the orphaned-files collection's own report, rendered by its room
        lines.append("")
        lines.extend(report["files_lines"])
    for name in report.get("indexes_built", []):
        lines.append(f"index built (kept for the next runs; DROP INDEX CONCURRENTLY public.{name} removes it): {name}")
    for name in report.get("indexes_dropped", []):
        lines.append(f"index dropped (keep_built_indexes off): {name}")
    for note in report["notes"]:
        lines.extend(_wrap(f"note: {note}"))
    return "\n".join(lines)


def note_text(report: dict, title: str | None = None) -> str:
    """The run's note on Airflow's run page (at most 1000 characters, Markdown)."""
    title = title or _title(report)
    # the outcome in the first line: Airflow shows a collapsed note by its first line, and colours a
    # deferred run green like a finished one
    text = f"**{title}: {report['outcome'].upper()}**\n\n" + "\n".join(f"- {line}" for line in summary_lines(report))
    return text[:1000]
