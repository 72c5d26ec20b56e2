"""Dify's log tables and their implicit references, declared once as data.

Dify declares almost no foreign keys (a handful across its whole schema), so nothing cascades and nothing
stops orphans. Like ``airflow db clean``'s dependent tables and GitLab's loose foreign keys, the
purge engine walks this declared graph instead of discovering references: every query the engine
runs is derived from these declarations, so adding a table means adding one line here.

Identifiers in this module are the only ones that ever reach SQL; they are quoted with
``psycopg.sql`` before use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

ENDED_RUN_STATUSES = ("succeeded", "failed", "partial-succeeded", "stopped")
NODE_RUN_TRIGGERS = ("workflow-run", "rag-pipeline-run")


@dataclass(frozen=True)
class Edge:
    """A child table whose rows belong to a parent row through ``parent_column``.

    ``match`` lists further (child column, parent column) pairs that are equal for every real
    child. They change no result but let a composite index serve the lookup on Dify versions
    whose only index holds the reference column last (0.14/0.15 ``workflow_node_executions``).
    ``match_values`` does the same for constant columns. ``curated`` marks content people made
    on purpose: while the policy keeps curated content, such a child keeps its parent alive.
    """

    table: str
    parent_column: str
    parent_key: str = "id"
    match: tuple[tuple[str, str], ...] = ()
    match_values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    children: tuple[Edge, ...] = ()
    recency_column: str | None = "created_at"
    curated: bool = False
    null_is_orphan: bool = False
    # A parent-to-child pointer in reverse (the child's key is named by the parent row, e.g. a
    # chatflow message's workflow run): the child has no column naming its parent, so there is
    # no orphan sweep below such an edge, and rows of it in another status than these stay.
    status_column: str | None = None
    purgeable_statuses: tuple[str, ...] = ()
    sweep_orphans: bool = True


@dataclass(frozen=True)
class Reference:
    """A row elsewhere that keeps a root alive while it exists (a live user, a remaining message)."""

    table: str
    column: str
    role_column: str | None = None
    role_value: str | None = None
    reason: str = "still referenced"
    curated: bool = False
    # False where the referencing row, when purged, takes the referenced one with it: a dry run
    # must then not count the root as freed by the referencing row's (noted) deletion
    freed_by_purge: bool = True


@dataclass(frozen=True)
class MonthIndex:
    """An index of rows archived elsewhere by tenant and month (Dify 1.16's archive bundles): while
    a bundle exists for a root row's tenant and month, the row is left to the archiver that made it."""

    table: str
    reason: str


@dataclass(frozen=True)
class Root:
    """A table whose rows expire by their own age and take their children with them.

    A root row is purged only when every column in ``recency_columns`` is older than the cutoff,
    its status (if ``status_column``) is in ``purgeable_statuses``, nothing in ``references``
    points at it, and none of its descendants is newer than the cutoff.
    """

    name: str
    table: str
    children: tuple[Edge, ...] = ()
    recency_columns: tuple[str, ...] = ("created_at",)
    status_column: str | None = None
    purgeable_statuses: tuple[str, ...] = ()
    only_null: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    scope_columns: tuple[str, ...] = ("app_id",)
    key: str = "id"
    month_indexes: tuple[MonthIndex, ...] = ()
    # rows that share this column's value form a whole (a conversation's messages): with the
    # policy's whole-group scope, a row stays while any row of its group is newer than the cutoff
    group_column: str | None = None


@dataclass(frozen=True)
class Family:
    """A unit of retention with its own policy days; purged by one mapped task."""

    name: str
    retention_key: str
    roots: tuple[Root, ...]
    after: tuple[str, ...] = ()
    description: str = ""


_OFFLOAD = Edge(
    "workflow_node_execution_offload",
    "node_execution_id",
    match=(("tenant_id", "tenant_id"),),
    null_is_orphan=True,
)

# A human-input form's own rows (Dify 1.13+; the upload tables 1.15+). A form belongs to a
# workflow run, or (1.15+, Agent-App chats) to a conversation.
_FORM_CHILDREN = (
    Edge("human_input_form_deliveries", "form_id"),
    Edge("human_input_form_recipients", "form_id"),
    Edge("human_input_form_upload_tokens", "form_id"),
    Edge("human_input_form_upload_files", "form_id"),
)

# What a workflow run takes with it, wherever it is purged from.
_RUN_CHILDREN = (
    Edge(
        "workflow_node_executions",
        "workflow_run_id",
        match=(
            ("tenant_id", "tenant_id"),
            ("app_id", "app_id"),
            ("workflow_id", "workflow_id"),
        ),
        match_values=(("triggered_from", NODE_RUN_TRIGGERS),),
        children=(_OFFLOAD,),
    ),
    Edge(
        "workflow_app_logs",
        "workflow_run_id",
        match=(("tenant_id", "tenant_id"), ("app_id", "app_id")),
    ),
    Edge(
        "workflow_pauses",
        "workflow_run_id",
        children=(Edge("workflow_pause_reasons", "pause_id"),),
    ),
    Edge("workflow_trigger_logs", "workflow_run_id"),
    Edge("human_input_forms", "workflow_run_id", children=_FORM_CHILDREN),
    # 1.15-1.16: no index leads with workflow_run_id, the tenant-led one serves (tenant_id, workflow_run_id);
    # node_execution_id is a text copy inside the same run, so the run's id finds every session
    Edge("agent_runtime_sessions", "workflow_run_id", match=(("tenant_id", "tenant_id"),)),
)

WORKFLOW_LOGS = Family(
    name="workflow_logs",
    retention_key="workflow_logs_days",
    description="Ended workflow runs with their node executions, offloads, app logs, pauses and "
    "trigger logs; single-step debug node executions by their own age. A chatflow's run stays "
    "while its message does, and goes with it.",
    roots=(
        Root(
            name="workflow_runs",
            table="workflow_runs",
            status_column="status",
            purgeable_statuses=ENDED_RUN_STATUSES,
            children=_RUN_CHILDREN,
            # Chatflow history loads each message's workflow run (https://github.com/langgenius/dify/issues/32674: Dify's own
            # clean-workflow-runs leaves them dangling and the history then fails to load). A run
            # that a remaining message names stays; the messages family deletes it with the message.
            references=(
                Reference("messages", "workflow_run_id", reason="shown by a remaining chatflow message", freed_by_purge=False),
            ),
            # Dify 1.16's archive (v2) bundles a tenant's runs per month and then deletes them itself
            month_indexes=(
                MonthIndex(
                    "workflow_run_archive_bundles",
                    "archived by Dify into a bundle for its tenant and month (left to Dify's own deletion)",
                ),
            ),
        ),
        Root(
            name="single_step_node_executions",
            table="workflow_node_executions",
            status_column="status",
            purgeable_statuses=ENDED_RUN_STATUSES + ("exception", "retry"),
            only_null=("workflow_run_id",),
            children=(_OFFLOAD,),
        ),
    ),
)

_MESSAGE_CHILDREN = (
    Edge("message_feedbacks", "message_id"),
    Edge("message_files", "message_id"),
    Edge("message_agent_thoughts", "message_id"),
    Edge("message_chains", "message_id"),
    Edge("dataset_retriever_resources", "message_id"),
    Edge("app_annotation_hit_histories", "message_id"),
    Edge("saved_messages", "message_id", match=(("app_id", "app_id"),), curated=True),
    Edge("message_annotations", "message_id", curated=True, recency_column="updated_at"),
)

MESSAGES = Family(
    name="messages",
    retention_key="messages_days",
    description="Messages with every message child table and a chatflow message's workflow run; then "
    "conversations that have no message left, with their pins and variables.",
    roots=(
        Root(
            name="messages",
            table="messages",
            group_column="conversation_id",
            children=(
                *_MESSAGE_CHILDREN,
                # a chatflow message's run (and its logs) goes with the message, never before it
                Edge(
                    "workflow_runs",
                    "id",
                    parent_key="workflow_run_id",
                    children=_RUN_CHILDREN,
                    status_column="status",
                    purgeable_statuses=ENDED_RUN_STATUSES,
                    sweep_orphans=False,
                ),
            ),
        ),
        Root(
            name="conversations",
            table="conversations",
            recency_columns=("created_at", "updated_at"),
            children=(
                Edge("pinned_conversations", "conversation_id", match=(("app_id", "app_id"),)),
                Edge("workflow_conversation_variables", "conversation_id", recency_column="updated_at"),
                Edge("tool_conversation_variables", "conversation_id", recency_column="updated_at"),
                # 1.15+: no index leads with conversation_id on either (build or defer, as any
                # unindexed lookup); a session used lately keeps its conversation
                Edge("agent_runtime_sessions", "conversation_id", recency_column="updated_at"),
                Edge("human_input_forms", "conversation_id", children=_FORM_CHILDREN),
            ),
            references=(
                Reference("messages", "conversation_id", reason="still has messages"),
                Reference("message_annotations", "conversation_id", reason="has curated annotations", curated=True),
                # 1.15+: the console's pointer to an agent's debug chat
                Reference("agent_debug_conversations", "conversation_id", reason="is an agent's debug conversation"),
            ),
        ),
    ),
)

_END_USER = "end_user"

END_USERS = Family(
    name="end_users",
    retention_key="end_users_days",
    after=("workflow_logs", "messages"),
    description="End users older than the cutoff that no remaining conversation, message, workflow run or upload refers to.",
    roots=(
        Root(
            name="end_users",
            table="end_users",
            recency_columns=("created_at", "updated_at"),
            scope_columns=("tenant_id", "app_id"),
            references=(
                Reference("conversations", "from_end_user_id", reason="has conversations"),
                Reference("messages", "from_end_user_id", reason="has messages"),
                Reference("workflow_runs", "created_by", "created_by_role", _END_USER, "has workflow runs"),
                Reference("workflow_app_logs", "created_by", "created_by_role", _END_USER, "has app logs"),
                Reference("upload_files", "created_by", "created_by_role", _END_USER, "has uploads"),
                Reference("message_feedbacks", "from_end_user_id", reason="has feedback"),
                Reference("saved_messages", "created_by", "created_by_role", _END_USER, "has saved messages"),
                Reference("pinned_conversations", "created_by", "created_by_role", _END_USER, "has pinned conversations"),
            ),
        ),
    ),
)

FAMILIES: tuple[Family, ...] = (WORKFLOW_LOGS, MESSAGES, END_USERS)
FAMILY_NAMES: tuple[str, ...] = tuple(f.name for f in FAMILIES)


def family(name: str) -> Family:
    for fam in FAMILIES:
        if fam.name == name:
            return fam
    raise KeyError(f"unknown table family {name!r}; known families: {', '.join(FAMILY_NAMES)}")


@dataclass(frozen=True)
class Path:
    """The chain of edges from a root down to one descendant table."""

    root: Root
    edges: tuple[Edge, ...] = field(default_factory=tuple)

    @property
    def table(self) -> str:
        return self.edges[-1].table if self.edges else self.root.table

    @property
    def parent_table(self) -> str:
        return self.edges[-2].table if len(self.edges) > 1 else self.root.table


def descendants(root: Root, keep_curated: bool = True) -> Iterator[Path]:
    """Every descendant path of ``root``, deepest first within each branch (delete order)."""

    def walk(prefix: tuple[Edge, ...], edges: tuple[Edge, ...]) -> Iterator[Path]:
        for edge in edges:
            if edge.curated and keep_curated:
                continue
            path = prefix + (edge,)
            yield from walk(path, edge.children)
            yield Path(root, path)

    yield from walk((), root.children)


def curated_paths(root: Root) -> Iterator[Path]:
    """Direct curated children of ``root``: while kept, they keep their parent."""
    for edge in root.children:
        if edge.curated:
            yield Path(root, (edge,))


def tables_of(fam: Family, keep_curated: bool = True) -> list[str]:
    """Tables a family may delete from, children before their parents, without repeats."""
    seen: list[str] = []
    for root in fam.roots:
        for path in descendants(root, keep_curated):
            if path.table not in seen:
                seen.append(path.table)
        if root.table not in seen:
            seen.append(root.table)
    return seen


def ledger_tables(family_names: tuple[str, ...] | list[str], keep_curated: bool = True) -> frozenset[str]:
    """Tables whose rows a dry run must remember as "would be deleted": a keep rule of the same
    run reads them (a conversation whose messages would all go, an end user whose conversations
    would go). Without it a dry run predicts none of these, since nothing was really deleted."""
    purged: set[str] = set()
    read: set[str] = set()
    for name in family_names:
        fam = family(name)
        purged.update(tables_of(fam, keep_curated))
        for root in fam.roots:
            read.update(ref.table for ref in root.references if keep_curated or not ref.curated)
    return frozenset(purged & read)


def all_tables() -> set[str]:
    """Every table the catalog names, as a root, a child or a reference."""
    names: set[str] = set()
    for fam in FAMILIES:
        names.update(tables_of(fam, keep_curated=False))
        for root in fam.roots:
            names.update(ref.table for ref in root.references)
    return names
