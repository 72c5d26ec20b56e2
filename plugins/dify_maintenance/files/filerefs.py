"""Every place a Dify row can name an upload or a tool file, declared once as data.

Dify's own ``clear-orphaned-file-records`` scans a fixed list and misses offloaded node payloads,
offloaded draft variables, knowledge attachments and the file ids inside workflow runs, draft
and conversation variables (dify-facts §1.9), so it deletes live files. Here a file is kept when
its id appears anywhere in any of these columns: as the exact value of an id column, or inside
JSON or text (a ``related_id`` in a node output, a ``/files/<id>/file-preview`` link in an
answer). Columns a Dify version lacks are skipped. Adding a reference path is one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from dify_maintenance.core.schema import SchemaSnapshot

# A file id as Dify writes it, anywhere in a value (uuid columns cast to text match it too).
UUID_PATTERN = "([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
# The whole value of an id column (read without the regexp_matches set function: about 4x faster).
EXACT_UUID_PATTERN = f"^{UUID_PATTERN}$"


@dataclass(frozen=True)
class Source:
    """A column whose values may hold file ids. ``direct`` marks exact id columns (they are
    checked again right before rows are deleted; text columns are too large to read twice)."""

    table: str
    column: str
    direct: bool = False

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


SOURCES: tuple[Source, ...] = (
    # exact references (dify-facts §3.3)
    Source("message_files", "upload_file_id", direct=True),  # uploads and tool files attached to messages
    Source("workflow_node_execution_offload", "file_id", direct=True),  # 1.9+: large node inputs/outputs
    Source("workflow_draft_variable_files", "upload_file_id", direct=True),  # 1.9+: large draft variables
    Source("segment_attachment_bindings", "attachment_id", direct=True),  # 1.11+: knowledge attachments
    Source("human_input_form_upload_files", "upload_file_id", direct=True),  # 1.15+: files sent to a human-input form
    Source("agent_drive_files", "file_id", direct=True),  # 1.15+: uploads and tool files kept in an agent's drive
    # knowledge
    Source("documents", "data_source_info"),
    Source("documents", "file_id"),
    Source("document_segments", "content"),
    Source("child_chunks", "content"),
    Source("datasets", "icon_info"),
    # conversations and messages
    Source("messages", "answer"),
    Source("messages", "inputs"),
    Source("messages", "message"),
    Source("message_agent_thoughts", "message_files"),
    Source("message_agent_thoughts", "observation"),
    Source("message_agent_thoughts", "tool_input"),
    Source("message_annotations", "content"),
    Source("conversations", "inputs"),
    Source("conversations", "introduction"),
    Source("conversations", "system_instruction"),
    # workflows
    Source("workflow_node_executions", "inputs"),
    Source("workflow_node_executions", "process_data"),
    Source("workflow_node_executions", "outputs"),
    Source("workflow_runs", "inputs"),
    Source("workflow_runs", "outputs"),
    Source("workflow_draft_variables", "value"),
    Source("workflow_conversation_variables", "data"),
    Source("workflows", "graph"),
    Source("workflows", "features"),
    Source("workflows", "environment_variables"),
    Source("workflows", "conversation_variables"),
    Source("app_model_configs", "opening_statement"),
    Source("app_model_configs", "user_input_form"),
    # icons and avatars (an icon of type image is an upload id)
    Source("apps", "icon"),
    Source("sites", "icon"),
    Source("accounts", "avatar"),
    Source("tenants", "custom_config"),  # the replaced web-app logo
)


def available(snap: SchemaSnapshot) -> list[Source]:
    """The sources this database has."""
    return [s for s in SOURCES if snap.has_column(s.table, s.column)]


def by_name(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(name)
