"""A root batch as one statement: the plan of a root turned into the levels of ``purge/batch.sql``
(every descendant table, located from its parent's rows) and the probes of ``purge/recheck.sql``,
and their results read back (what was kept and why, what went, which roots a live write names).

Sub-statements of one WITH see one snapshot and not each other's deletes, so each level's rows
are found once, judged (old, ended) once, and a parent goes only if everything found under it
went. A batch is then: its session settings and claim, this statement, the re-check, the
progress row: four statements whatever the family (a message batch used to run about 40).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.core.schema import SchemaSnapshot
from dify_maintenance.retention.plan import PathPlan, RootPlan

# The SQL type of a key column's array in the re-check (values travel as text in the summary).
_ARRAY_TYPES = {
    "uuid": "uuid",
    "text": "text",
    "character varying": "text",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "integer": "int",
    "bigint": "bigint",
}


@dataclass
class Level:
    """One descendant table of a root batch (a path of the plan), as batch.sql needs it."""

    n: int
    table: str
    parent: int  # 0: the root
    parent_column: str
    parent_key: str
    match: list[tuple[str, str]]
    match_values: list[tuple[str, str]]
    recency: str | None
    status: tuple[str, str] | None
    reverse: bool
    reason_newer: int
    reason_unfinished: int
    carry: list[str] = field(default_factory=list)
    key_columns: list[str] = field(default_factory=list)
    children: list[int] = field(default_factory=list)  # levels whose deletes this level's delete awaits
    ledger_key: str | None = None


@dataclass
class Chain:
    """Everything a root's batches render, decided once per walk."""

    plan: RootPlan
    levels: list[Level]
    rules: list[dict]
    reasons: dict[int, str]  # keep-reason number (the CASE's, then the levels') -> text
    root: dict
    parents: list[dict]
    root_type: str
    ledger_params: dict[str, str]

    def batch_context(self, mode: str, has_cursor: bool, has_exclusions: bool) -> dict:
        down = sorted(self.levels, key=lambda lv: _depth(lv, self.levels))
        return {
            "mode": mode,
            "root": self.root,
            "rules": self.rules,
            "levels_down": [lv.__dict__ for lv in down],
            "levels_up": [lv.__dict__ for lv in reversed(down)],
            "has_cursor": has_cursor,
            "has_exclusions": has_exclusions,
        }

    def recheck_context(self) -> dict:
        return {"parents": self.parents, "root_type": self.root_type}

    def table_of(self, level: int) -> str:
        return self.plan.root.table if level == 0 else next(lv.table for lv in self.levels if lv.n == level)

    def root_of(self, level: int, values: dict) -> str | None:
        """The root key of a deleted row (``row_to_json``) of the root or of a direct child that
        names the root by its key; None deeper down."""
        if level == 0:
            return str(values[self.plan.root.key])
        lv = next(lv for lv in self.levels if lv.n == level)
        if lv.parent == 0 and lv.parent_key == self.plan.root.key and values.get(lv.parent_column) is not None:
            return str(values[lv.parent_column])
        return None


def _depth(level: Level, levels: list[Level]) -> int:
    by_n = {lv.n: lv for lv in levels}
    depth, current = 0, level
    while current.parent:
        depth += 1
        current = by_n[current.parent]
    return depth


def _add(columns: list[str], *names: str) -> None:
    for name in names:
        if name and name not in columns:
            columns.append(name)


def array_type(snap: SchemaSnapshot, table: str, column: str) -> str:
    data_type = snap.columns[table][column]
    if data_type not in _ARRAY_TYPES:
        raise MaintenanceError(f"{table}.{column} is of type {data_type}, which the purge's re-check cannot carry")
    return _ARRAY_TYPES[data_type]


def build(plan: RootPlan, snap: SchemaSnapshot) -> Chain:
    """The levels, keep rules and re-check probes of ``plan`` on this schema."""
    root = plan.root
    paths: list[PathPlan] = plan.paths
    by_chain = {p.chain: i + 1 for i, p in enumerate(paths)}
    # keep rules a candidate is tested against; a descendant newer than the cutoff or not ended is
    # found by the levels themselves
    tested = [r for r in plan.keep_rules if r.sql["kind"] != "descendant" or not (r.sql["newer_column"] or r.sql["status"])]
    # a rule whose lookup has an index probes per candidate; one without may be hashed
    rules = [{**r.sql, "probe": not plan.scans(rules=[r.sql])} for r in tested]
    reasons = {i: r.reason for i, r in enumerate(tested, start=1)}
    levels: list[Level] = []
    next_reason = len(rules) + 1
    for i, path in enumerate(paths, start=1):
        step = path.steps[-1]
        parent = by_chain.get(path.chain[:-1], 0) if len(path.chain) > 1 else 0
        reasons[next_reason] = f"has {path.table} newer than the cutoff"
        reasons[next_reason + 1] = f"has an unfinished {path.table}"
        levels.append(
            Level(
                n=i,
                table=path.table,
                parent=parent,
                parent_column=step.parent_column,
                parent_key=step.parent_key,
                match=list(step.match),
                match_values=list(step.match_values),
                recency=path.recency_column,
                status=path.status,
                reverse=path.reverse,
                reason_newer=next_reason,
                reason_unfinished=next_reason + 1,
                ledger_key=plan.ledger_keys.get(path.table),
            )
        )
        next_reason += 2
    by_n = {lv.n: lv for lv in levels}
    root_carry = list(plan.carry)
    root_keys = [root.key]
    for lv in levels:
        parent_carry = root_carry if lv.parent == 0 else by_n[lv.parent].carry
        parent_keys = root_keys if lv.parent == 0 else by_n[lv.parent].key_columns
        joined = [lv.parent_key, *(p for _c, p in lv.match)]
        _add(parent_carry, *joined)
        if not lv.reverse:
            _add(parent_keys, *joined)
            if lv.parent:
                by_n[lv.parent].children.append(lv.n)
        else:
            _add(lv.carry, lv.parent_column)
            _add(lv.key_columns, lv.parent_column)
        _add(lv.carry, lv.ledger_key or "")
    for lv in levels:
        if lv.key_columns and lv.parent:  # how a repair finds the row above it
            _add(lv.key_columns, lv.parent_column)
        _add(lv.carry, *lv.key_columns)
    guards = [r for r in plan.guard_rules if r["kind"] in ("reference", "month_index")]
    if any(r["kind"] == "month_index" for r in guards):
        _add(root_keys, "tenant_id", "created_at")
    _add(root_carry, *root_keys)
    status_rule = next((r for r in plan.guard_rules if r["kind"] == "status"), None)
    root_children = [lv.n for lv in levels if lv.parent == 0 and not lv.reverse]
    parents = [
        {
            "n": 0,
            "columns": root_keys,
            "types": [array_type(snap, root.table, c) for c in root_keys],
            "children": [lv.__dict__ for lv in levels if lv.parent == 0 and not lv.reverse],
            "references": [{**g, "not_deleted": None} for g in guards],
        }
    ]
    for lv in levels:
        if not lv.key_columns:
            continue
        references = []
        if lv.reverse:  # a root row left that names this row keeps it (a chatflow message's run)
            references.append(
                {
                    "kind": "reference",
                    "ref_table": root.table,
                    "ref_column": lv.parent_key,
                    "key": lv.parent_column,
                    "role_column": None,
                    "not_deleted": root.key,
                }
            )
        parents.append(
            {
                "n": lv.n,
                "columns": lv.key_columns,
                "types": [array_type(snap, lv.table, c) for c in lv.key_columns],
                "children": [c.__dict__ for c in levels if c.parent == lv.n and not c.reverse],
                "references": references,
            }
        )
    ledger_params = {f"noted_{lv.n}": lv.table for lv in levels if lv.ledger_key}
    root_ledger = plan.ledger_keys.get(root.table)
    if root_ledger:
        ledger_params["noted_0"] = root.table
    root_ctx = {
        **plan.template,
        "carry": root_carry,
        "children": root_children,
        "key_columns": root_keys[1:],
        "status_rule": status_rule,
        "ledger_key": root_ledger,
    }
    return Chain(plan, levels, rules, reasons, root_ctx, parents, array_type(snap, root.table, root.key), ledger_params)


@dataclass
class Outcome:
    """What one run of the batch statement did."""

    scanned: int
    matched: int
    last: list | None
    kept: dict[str, int]
    deleted: dict[str, int]  # table -> rows (a dry run: would delete)
    go: list[str]
    keys: dict[int, list[list[str]]]

    @property
    def deleted_roots(self) -> set[str]:
        return {row[0] for row in self.keys.get(0, [])}


def merge(outcomes: list[Outcome]) -> Outcome:
    """Several batches' outcomes as one (the check after their commits probes them at once)."""
    keys: dict[int, list[list[str]]] = {}
    for outcome in outcomes:
        for level, rows in outcome.keys.items():
            keys.setdefault(level, []).extend(rows)
    return Outcome(
        scanned=sum(o.scanned for o in outcomes),
        matched=sum(o.matched for o in outcomes),
        last=None,
        kept={},
        deleted={},
        go=[],  # the commits are done: a root that stayed is no offender now
        keys=keys,
    )


def read_summary(chain: Chain, summary: dict) -> Outcome:
    kept: dict[str, int] = {}
    for number, n in (summary.get("kept") or {}).items():
        reason = chain.reasons[int(number)]
        kept[reason] = kept.get(reason, 0) + int(n)
    for number, n in (summary.get("bad_by") or {}).items():
        reason = chain.reasons[int(number)]
        kept[reason] = kept.get(reason, 0) + int(n)
    deleted: dict[str, int] = {}
    for level, n in (summary.get("deleted") or {}).items():
        table = chain.table_of(int(level))
        deleted[table] = deleted.get(table, 0) + int(n)
    keys = {int(level): rows for level, rows in (summary.get("keys") or {}).items() if rows}
    return Outcome(
        scanned=int(summary["scanned"]),
        matched=int(summary["matched"]),
        last=summary.get("last"),
        kept=kept,
        deleted=deleted,
        go=list(summary.get("go") or []),
        keys=keys,
    )


def recheck_params(chain: Chain, outcome: Outcome) -> dict:
    """The arrays of the re-check: per parent level, one array per key column."""
    params: dict = {}
    for parent in chain.parents:
        rows = outcome.keys.get(parent["n"], [])
        for i, _column in enumerate(parent["columns"]):
            params[f"k{parent['n']}_{i}"] = [row[i] if parent["n"] == 0 else row[i + 1] for row in rows]
    return params


def offenders(outcome: Outcome, found: list[dict]) -> list[str]:
    """Roots to leave out of a redo: those the re-check found named (by level and position), and
    candidates the statement meant to delete but whose root row stayed (a live change)."""
    roots = {outcome.keys[row["lv"]][int(row["i"]) - 1][0] for row in found}
    roots |= set(outcome.go) - outcome.deleted_roots
    return sorted(roots)


def named_keys(chain: Chain, outcome: Outcome) -> dict[str, list[str]]:
    """Keys of deleted rows that rows elsewhere may name without owning them: roots with
    references, and a reverse edge's rows (a chatflow message's run). Verify checks them."""
    out: dict[str, list[str]] = {}
    if chain.plan.root.references and outcome.keys.get(0):
        out[chain.plan.root.table] = [row[0] for row in outcome.keys[0]]
    for level in chain.levels:
        if level.reverse and outcome.keys.get(level.n):
            out.setdefault(level.table, []).extend(row[1] for row in outcome.keys[level.n])
    return out


def rows_to_restore(chain: Chain, outcome: Outcome, found: list[dict]) -> list[tuple[str, str, str]]:
    """For each row a write named after the commit: (table, column, value) of it and of every row
    above it up to the root, each once, parents first."""
    by_n = {lv.n: lv for lv in chain.levels}
    root = chain.plan.root
    wanted: list[tuple[str, str, str]] = []

    def add(item: tuple[str, str, str]) -> None:
        if item not in wanted:
            wanted.insert(0, item)

    for row in found:
        level_no, key_row = row["lv"], outcome.keys[row["lv"]][int(row["i"]) - 1]
        if level_no == 0:
            add((root.table, root.key, key_row[0]))
            continue
        level = by_n[level_no]
        add((level.table, level.key_columns[0], key_row[1]))
        while level.parent:
            parent = by_n[level.parent]
            value = key_row[1 + level.key_columns.index(level.parent_column)]
            add((parent.table, level.parent_key, value))
            matches = [r for r in outcome.keys.get(parent.n, []) if r[1 + parent.key_columns.index(level.parent_key)] == value]
            if not matches:
                break
            key_row, level = matches[0], parent
        add((root.table, root.key, key_row[0]))
    return wanted


def parse_copy_line(line: bytes) -> tuple[int, bytes]:
    """A line of the copy stream: its tag and the rest (still COPY text, with its newline)."""
    tag, _, rest = line.partition(b"\t")
    return int(tag), rest


def copy_text_value(raw: bytes) -> str:
    """One COPY text field back to its value."""
    return _unescape(raw.decode().rstrip("\n"))


_ESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPED.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)
