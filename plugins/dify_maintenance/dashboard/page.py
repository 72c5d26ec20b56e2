"""The maintenance page as one self-contained HTML document (inline CSS and SVG, no script, no
CDN): a team lead sees on one screen whether the weekly retention ran, what it deleted, how the
database grows, what is deferred and why, backups, orphaned files and the stop switch."""

from __future__ import annotations

from datetime import datetime
from html import escape

from dify_maintenance.dashboard import charts

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px 24px;color:#111827;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top}
th{font-weight:600;color:#374151;background:#f9fafb} .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.success{background:#dcfce7;color:#166534} .deferred{background:#fef3c7;color:#92400e} .failed{background:#fee2e2;color:#991b1b}
.none{background:#f3f4f6;color:#4b5563} .failed-line{color:#991b1b} .muted{color:#6b7280} code{background:#f3f4f6;padding:1px 4px;border-radius:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px} .card h3{margin:0 0 6px;font-size:14px}
.stop-on{background:#fee2e2;color:#991b1b} .stop-off{background:#dcfce7;color:#166534}
"""


def _badge(outcome: str | None) -> str:
    kind = outcome if outcome in ("success", "deferred", "failed") else "none"
    return f'<span class="badge {kind}">{escape(outcome or "never ran")}</span>'


def _when(value: str | None) -> str:
    if not value:
        return '<span class="muted">-</span>'
    return escape(datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC"))


def _counts(values: dict) -> str:
    shown = [f"{escape(k)} {v:,}" for k, v in values.items() if v]
    return "<br>".join(shown) or '<span class="muted">0</span>'


def _run_row(css: str, dag_id: str, name: str, outcome: str, run: dict, cutoffs: str, duration: str, next_run: str) -> str:
    """One run's row: the last run of a DAG, or (beneath it) its last successful one."""
    return (
        f'<tr class="{css}" data-dag="{escape(dag_id)}"><td>{name}</td><td>{outcome}</td>'
        f"<td>{_when(run['recorded_at'])}</td><td>{cutoffs}</td><td class=num>{_counts(run['deleted'])}</td>"
        f"<td class=num>{_counts(run['archived'])}</td><td class=num>{duration}</td><td>{next_run}</td>"
        f'<td><a href="{escape(run["link"])}" target="_top">run</a></td></tr>'
    )


def _runs(model: dict) -> str:
    rows = []
    for entry in model["runs"]:
        last = entry.get("last")
        paused = " (paused)" if entry.get("paused") else ""
        next_run = (
            _when(entry.get("next_run")) + paused if entry.get("next_run") else f'<span class="muted">manual{paused}</span>'
        )
        if not last:
            rows.append(
                f"<tr><td>{escape(entry['dag_id'])}</td><td>{_badge(None)}</td><td colspan=5></td><td>{next_run}</td><td></td></tr>"
            )
            continue
        outcome = _badge(last["outcome"]) + (' <span class="muted">dry run</span>' if last["dry_run"] else "")
        if last["error"]:
            outcome += f'<br><span class="failed-line">{escape(last["error"])}</span>'
        if last.get("summary"):
            outcome += f'<br><span class="muted summary">{escape(last["summary"])}</span>'
        cutoffs = "<br>".join(f"{escape(k)} &lt; {escape(v[:16])}" for k, v in last["cutoffs"].items()) or "-"
        duration = f"{last['duration_seconds']:,.0f} s" if last["duration_seconds"] is not None else "-"
        rows.append(_run_row("run", entry["dag_id"], escape(entry["dag_id"]), outcome, last, cutoffs, duration, next_run))
        if success := entry.get("last_success"):
            rows.append(
                _run_row("last-success", entry["dag_id"], "", '<span class="muted">last success</span>', success, "", "", "")
            )
    head = "<tr><th>DAG</th><th>last run</th><th>finished</th><th>cutoffs</th><th>deleted</th><th>archived</th><th>duration</th><th>next run</th><th></th></tr>"
    return f"<table id=runs>{head}{''.join(rows)}</table>"


def _deferred(model: dict) -> str:
    items = model.get("deferred") or []
    if not items:
        return '<p class="muted">The last retention run left nothing deferred.</p>'
    out = []
    for d in items:
        line = f"<li><b>{escape(d['family'])}</b>: {escape(d['kind'])} ({escape(d['reason'])})"
        if d["statement"]:
            line += f"<br>create the index: <code>{escape(d['statement'])}</code>"
        out.append(line + "</li>")
    return f"<ul id=deferred>{''.join(out)}</ul>"


def _cards(model: dict) -> str:
    backup = model.get("backup")
    if backup:
        state = "verified" if backup["verified"] else "NOT verified"
        b = (
            f"<p>{escape(backup['backup_id'] or '?')}: {state}, {charts.human_bytes(backup['total_bytes'])}, "
            f"{backup['age_hours']:,.1f} h old</p>"
        )
    else:
        b = '<p class="muted">No backup recorded (the DAG dify_backup).</p>'
    orphans = model.get("orphans")
    if orphans:
        kind = "dry run" if orphans["dry_run"] else "real run"
        o = f"<p>{orphans['candidates']:,} candidates, {charts.human_bytes(orphans['bytes'])} ({kind}, {_when(orphans['recorded_at'])})</p>"
    else:
        o = '<p class="muted">No orphaned-files run yet.</p>'
    quarantines = model.get("quarantines") or []
    q = (
        "<ul>"
        + "".join(f"<li>{escape(x['quarantine_id'])}: expires {_when(x['expires_at'])}</li>" for x in quarantines)
        + "</ul>"
        if quarantines
        else '<p class="muted">No quarantine waiting.</p>'
    )
    upgrade = model.get("pre_upgrade")
    if upgrade:
        kind = "would delete" if upgrade["dry_run"] else "deleted"
        u = f"<p>to {escape(upgrade['target_version'] or '?')}: {kind} {upgrade['rows']:,} rows ({_when(upgrade['recorded_at'])})</p>"
    else:
        u = '<p class="muted">Run dify_pre_upgrade_cleanup as a dry run to see what it would save.</p>'
    stop = model["stop_switch"]
    s = (
        f'<p><span class="badge {"stop-on" if stop["on"] else "stop-off"}">{"ON: runs stop after their current batch" if stop["on"] else "off"}</span></p>'
        f"<p class=muted>Read-only here. To flip it: Admin → Variables → <code>{escape(stop['variable'])}</code> = <code>stop</code> "
        f"(or <code>airflow variables set {escape(stop['variable'])} stop</code>); delete the Variable to switch it off.</p>"
    )
    cards = [
        ("Newest backup", b),
        ("Orphaned files", o),
        ("Quarantines waiting to expire", q),
        ("Pre-upgrade cleanup", u),
        ("Stop switch", s),
    ]
    return '<div class="grid">' + "".join(f'<div class="card"><h3>{t}</h3>{body}</div>' for t, body in cards) + "</div>"


def render(model: dict) -> str:
    weekly = model["purged_weekly"]
    size = model["log_size"]
    points = [(datetime.fromisoformat(p["taken_at"]), p["bytes"]) for p in size["points"]]
    marks = [
        (datetime.fromisoformat(m["at"]), f"retention {m['outcome']}, {m['deleted']:,} rows") for m in size["retention_runs"]
    ]
    biggest = [(t["table_name"], t["total_bytes"], t["dead_bytes"]) for t in model["biggest_tables"]]
    table_rows = "".join(
        f"<tr><td>{escape(t['table_name'])}</td><td class=num>{charts.human_bytes(t['total_bytes'])}</td>"
        f"<td class=num>{charts.human_bytes(t['dead_bytes'])}</td><td class=num>{t['live_rows']:,}</td><td class=num>{t['dead_rows']:,}</td></tr>"
        for t in model["biggest_tables"]
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dify maintenance</title><style>{_CSS}</style></head>
<body>
<h1>Dify maintenance: {escape(model["database"])}</h1>
<p class="muted">as of {_when(model["generated_at"])}; from dify_maintenance.history, the hourly table-size snapshots and the catalog</p>
<h2>Last runs</h2>{_runs(model)}
<h2>Deferred work</h2>{_deferred(model)}
<div class="grid">
<div><h2>Rows purged per week</h2>{charts.stacked_bars("Rows purged per week and family", weekly["weeks"], weekly["series"])}</div>
<div><h2>Size of Dify's log tables</h2>{charts.line_with_marks("Total size of Dify's log tables", points, marks)}
<p class="muted">{size["snapshots"]:,} hourly snapshots (DAG dify_table_sizes) of the {len(size["tables"])} tables the retention purges</p></div>
</div>
<h2>Ten biggest tables now</h2>
<div class="grid"><div>{charts.horizontal_bars("Ten biggest tables, dead space in red", biggest)}</div>
<div><table id=biggest><tr><th>table</th><th class=num>total</th><th class=num>dead (est.)</th><th class=num>live rows</th><th class=num>dead rows</th></tr>{table_rows}</table></div></div>
<h2>Backups, files, switches</h2>{_cards(model)}
</body></html>"""


def unavailable(why: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dify maintenance</title><style>{_CSS}</style></head>'
        f"<body><h1>Dify maintenance</h1><p class=failed>The Dify database cannot be read: {escape(why)}</p></body></html>"
    )
