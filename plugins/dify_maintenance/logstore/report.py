"""The log migration's report: what was planned, what each stream wrote, every rejected
document by id, and the validation's verdict with each difference."""

from __future__ import annotations

from dify_maintenance.core import state

TITLE = "Dify workflow-log migration report"
SHOWN = 20


def plan_lines(planned: dict) -> list[str]:
    req = planned["request"]
    info = planned.get("cluster_info") or {}
    lines = [
        f"cluster {planned['cluster']}: {info.get('product', '?')} {info.get('version', '')} "
        f"({(planned.get('health') or {}).get('status', '?')}), prefix {req['prefix']}, layout {req['layout']}",
        "readable by Dify"
        if planned.get("readable_by_dify")
        else "NOT READABLE BY DIFY (an export): " + "; ".join(planned.get("not_readable_by_dify") or ["unknown cluster"]),
        f"window: {req['window_start'] or 'the oldest row'} to {req['window_end']} (exclusive), "
        f"tenants: {', '.join(req['tenants']) or 'all'}",
        f"{planned['documents']:,} documents, about {planned['bytes'] / 1e6:,.1f} MB "
        f"(of which {planned['offloaded_files']:,} offloaded payloads, {planned['offloaded_bytes'] / 1e6:,.1f} MB, "
        "read from storage)",
    ]
    by_type: dict[str, list[int]] = {}
    for p in planned["partitions"]:
        entry = by_type.setdefault(p["data_type"], [0, 0, 0])
        entry[0] += 1
        entry[1] += p["rows"]
        entry[2] += p["bytes"]
    lines.extend(
        f"  {name}: {rows:,} rows in {months} months, {size / 1e6:,.1f} MB" for name, (months, rows, size) in by_type.items()
    )
    lines.extend(f"note: {n}" for n in planned["notes"])
    return lines


def migration_report(planned: dict | None, streams: list[dict], checked: dict | None, errors: dict[str, str]) -> dict:
    expected = len(planned["partitions"]) if planned and not planned["dry_run"] else 0
    rejected = sum(s["rejected_total"] for s in streams)
    validation = (
        None if checked is None else ("skipped" if "skipped" in checked else ("passed" if checked["passed"] else "failed"))
    )
    complete = planned is not None and len(streams) == expected and (planned["dry_run"] or validation == "passed")
    error = state.first_error(errors)
    if complete and not rejected:
        outcome = "success"
    else:
        outcome = "failed"
        if not error:
            error = (
                f"{rejected} documents rejected" if rejected else "validation failed" if validation == "failed" else "incomplete"
            )
    written = sum(s["created"] + s["updated"] for s in streams)
    readable = bool(planned and planned.get("readable_by_dify"))
    rep = {
        "outcome": outcome,
        "error": error,
        "errors": errors,
        "dry_run": bool(planned and planned["dry_run"]),
        "plan": planned,
        "streams": streams,
        "documents_written": written,
        "documents_created": sum(s["created"] for s in streams),
        "documents_rewritten": sum(s["updated"] for s in streams),
        "late": sum(s.get("late", 0) for s in streams),
        "refreshed": sum(s.get("refreshed", 0) for s in streams),
        "rejected": rejected,
        "rejects": [r for s in streams for r in s["rejects"]][:100],
        "validation": validation,
        "validate": checked,
        "readable_by_dify": readable,
    }
    if planned and planned["dry_run"]:
        rep["page_counts"] = {"documents to write": planned["documents"]}
    else:
        rep["page_counts"] = {"documents written": written, "rejected": rejected}
    where = "readable by Dify" if readable else "an export NOT readable by Dify"
    rep["summary_line"] = f"{written:,} documents written, {rejected:,} rejected, validation {validation or 'not run'}; {where}"
    return rep


def migration_lines(rep: dict) -> list[str]:
    lines = [
        TITLE + ("  DRY RUN" if rep["dry_run"] else ""),
        f"outcome: {rep['outcome']}" + (f" ({rep['error']})" if rep["error"] else ""),
    ]
    if rep["plan"]:
        lines.extend(plan_lines(rep["plan"]))
    if rep["streams"]:
        seconds = max(sum(s["seconds"] for s in rep["streams"]), 1e-9)
        sent = sum(s["bytes"] for s in rep["streams"])
        lines.append(
            f"written: {rep['documents_created']:,} created, {rep['documents_rewritten']:,} rewritten (a resume, a rerun, "
            f"{rep['late']:,} rows found late behind a watermark, {rep['refreshed']:,} rows changed since the last pass), "
            f"{rep['rejected']:,} rejected; {sent / 1e6:,.1f} MB in {seconds:,.1f} task-seconds"
        )
        for s in rep["streams"]:
            lines.append(
                f"  {s['data_type']:<16} {s['month']}: {s['created']:>9,} created {s['updated']:>9,} rewritten "
                f"{s['rejected_total']:>6,} rejected  {s['docs_per_second'] or 0:>9,.0f} docs/s"
            )
    for r in rep["rejects"][:SHOWN]:
        lines.append(f"  REJECTED {r['index']} id {r['id']}: {r['reason']}")
    checked = rep["validate"]
    if checked and "skipped" not in checked:
        lines.append(f"validation #{checked['validation_id']}: {'PASSED' if checked['passed'] else 'FAILED'}")
        for d in checked["data_types"]:
            lines.append(
                f"  {d['data_type']:<16} rows {d['rows']:,}, documents compared {d['checked']:,}: "
                f"missing {d['missing_count']:,}, different {d['difference_count']:,}, "
                f"rows without a document (rejected) {d['rejected_count']:,}"
            )
            lines.extend(f"    missing {m['index']} id {m['id']}" for m in d["missing"][:SHOWN])
            lines.extend(f"    rejected {r['index']} id {r['id']}: {r['reason']}" for r in d["rejected"][:SHOWN])
            lines.extend(
                f"    differs {x['index']} id {x['id']} field {x['field']}: expected {x['expected']!r}, found {x['found']!r}"
                for x in d["differences"][:SHOWN]
            )
    found = rep.get("status")
    if found and "skipped" not in found:
        lines.append(f"status: cluster {found['cluster']} {found['health']['status']}, {found['indices']} indices")
        lines.extend(
            f"  {t['data_type']:<16} tenant {t['tenant_id']}: {t['rows']:,} rows, {t['documents']:,} docs, {t['left']:,} left"
            for t in found["tenants"][: SHOWN * 3]
        )
    return lines


def note_lines(rep: dict) -> list[str]:
    """The run note's lines (the title, the outcome and the error are the note's own)."""
    items = []
    if rep["plan"]:
        items.append(f"planned: {rep['plan']['documents']:,} documents, {rep['plan']['bytes'] / 1e6:,.1f} MB")
    if rep["plan"] and not rep["readable_by_dify"]:
        items.append("an export NOT readable by Dify: " + "; ".join(rep["plan"].get("not_readable_by_dify") or []))
    if not rep["dry_run"]:
        written = f"{rep['documents_written']:,} ({rep['late']:,} found late, {rep['refreshed']:,} changed rows rewritten)"
        items.append(f"documents written: {written}, {rep['rejected']} rejected")
        items.append(f"validation: {rep['validation'] or 'not run'}")
    return items
