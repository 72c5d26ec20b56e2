"""The log migration's report: what was planned, what each stream wrote, every rejected
document by id, and the validation's verdict with each difference."""

from __future__ import annotations

from dify_maintenance.core import state

TITLE = "Dify workflow-log migration report"
SHOWN = 20


def plan_lines(planned: dict) -> list[str]:
    req = planned["request"]
    lines = [
        f"cluster {planned['cluster']} ({(planned.get('health') or {}).get('status', '?')}), prefix {req['prefix']}, "
        f"layout {req['layout']}",
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
    return {
        "outcome": outcome,
        "error": error,
        "errors": errors,
        "dry_run": bool(planned and planned["dry_run"]),
        "plan": planned,
        "streams": streams,
        "documents_created": sum(s["created"] for s in streams),
        "documents_existing": sum(s["existing"] for s in streams),
        "rejected": rejected,
        "rejects": [r for s in streams for r in s["rejects"]][:100],
        "validation": validation,
        "validate": checked,
    }


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
            f"written: {rep['documents_created']:,} created, {rep['documents_existing']:,} already there (a resume or a rerun), "
            f"{rep['rejected']:,} rejected; {sent / 1e6:,.1f} MB in {seconds:,.1f} task-seconds"
        )
        for s in rep["streams"]:
            lines.append(
                f"  {s['data_type']:<16} {s['month']}: {s['created']:>9,} created {s['existing']:>9,} existing "
                f"{s['rejected_total']:>6,} rejected  {s['docs_per_second'] or 0:>9,.0f} docs/s"
            )
    for r in rep["rejects"][:SHOWN]:
        lines.append(f"  REJECTED {r['index']} id {r['id']}: {r['reason']}")
    checked = rep["validate"]
    if checked and "skipped" not in checked:
        lines.append(f"validation #{checked['validation_id']}: {'PASSED' if checked['passed'] else 'FAILED'}")
        for d in checked["data_types"]:
            lines.append(
                f"  {d['data_type']:<16} rows {d['rows']:,} documents {d['documents']:,} in {d['indices']} indices; "
                f"ids checked {d['ids_checked']:,}, missing {d['missing_count']:,}; "
                f"sample {d['sampled']}, differences {d['difference_count']}"
            )
            lines.extend(
                f"    count differs {c['index']}: {c['rows']} rows, {c['documents']} documents"
                for c in d["count_mismatches"][:SHOWN]
            )
            lines.extend(f"    missing {m['index']} id {m['id']}" for m in d["missing"][:SHOWN])
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


def note(rep: dict) -> str:
    items = [f"**{TITLE}**" + (" (dry run)" if rep["dry_run"] else ""), f"- outcome: {rep['outcome']}"]
    if rep["plan"]:
        items.append(f"- planned: {rep['plan']['documents']:,} documents, {rep['plan']['bytes'] / 1e6:,.1f} MB")
    if not rep["dry_run"]:
        written = f"{rep['documents_created']:,} created, {rep['documents_existing']:,} already there"
        items.append(f"- written: {written}, {rep['rejected']} rejected")
        items.append(f"- validation: {rep['validation'] or 'not run'}")
    if rep["error"]:
        items.append(f"- error: {rep['error']}")
    return "\n".join(items)[:1000]
