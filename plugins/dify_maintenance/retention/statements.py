"""The statements of one root batch after its window is selected, built from the plan: the keep
rules, the child deletes, the root delete and the re-check before the commit. Each says whether a
lookup in it has no index (it then needs the planner's hash joins; every other one is held to
index plans, so what it reads grows with the batch, not the table: tests/test_plan_shapes.py
checks that with EXPLAIN at two data sizes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dify_maintenance.retention.plan import KeepRule, PathPlan, RootPlan


@dataclass(frozen=True)
class Statement:
    label: str
    template: str
    scans: bool
    context: dict = field(default_factory=dict)


def keep(plan: RootPlan, rule: KeepRule, index_plans: bool) -> Statement:
    scans = plan.scans(rules=[rule.sql])
    # A rule over a longer path probes per candidate: as a semi-join the planner may start from
    # the far table (all newer offloads, say), which grows with the table (measured: 35 ms against
    # 247 ms for the offload rule of a 1,000-run batch). Below a reverse edge, where the path
    # starts from the row the root names, the semi-join wins.
    path = rule.sql.get("path") or ()
    probe = index_plans and not scans and len(path) > 1 and path[0]["parent_key"] == plan.root.key
    return Statement(f"keep: {rule.reason}", "purge/keep.sql", scans, {"cand": plan.cand, "rule": rule.sql, "probe": probe})


def delete_path(plan: RootPlan, path: PathPlan) -> Statement:
    return Statement(
        f"delete {path.table}",
        "purge/delete_path.sql",
        plan.scans(steps=path.render_steps() + path.children),
        {
            "table": path.table,
            "cand": plan.cand,
            "path": path.render_steps(),
            "key": plan.root.key,
            "ledger_key": plan.ledger_keys.get(path.table),
            "recency": path.recency_column,
            "status": path.status,
            "children": path.children,
        },
    )


def delete_root(plan: RootPlan) -> Statement:
    tmpl = plan.template
    return Statement(
        f"delete {plan.root.table}",
        "purge/delete_path.sql",
        plan.scans(steps=plan.children, rules=plan.guard_rules),
        {
            "table": plan.root.table,
            "cand": plan.cand,
            "path": [],
            "key": plan.root.key,
            "ledger_key": plan.ledger_keys.get(plan.root.table),
            "recency": None,
            "status": None,
            "children": plan.children,
            "guards": plan.guard_rules,
            "root_recency": tmpl["recency"],
            "only_null": tmpl["only_null"],
            "scope_columns": tmpl["scope_columns"],
            "filters": tmpl["filters"],
        },
    )


def offenders(plan: RootPlan) -> Statement:
    return Statement(
        "re-check before commit",
        "purge/offenders.sql",
        plan.scans(steps=plan.children, rules=plan.guard_rules),
        {
            "cand": plan.cand,
            "table": plan.root.table,
            "key": plan.root.key,
            "children": plan.children,
            "guards": plan.guard_rules,
        },
    )
