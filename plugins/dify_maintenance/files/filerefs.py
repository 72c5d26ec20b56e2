"""Every place a Dify row can name a stored file, declared once as data.

A file is an ``upload_files`` or ``tool_files`` row and the object at its key. Dify names one in
five ways, and a file is kept while any of them names it anywhere:

- the id as the whole value of an id column (``message_files.upload_file_id``);
- the id inside text or JSON (a ``related_id``, a ``/files/<id>/file-preview`` link);
- a ``dify-file-ref:<base64url JSON>`` reference, whose JSON holds ``record_id`` (the id) and
  perhaps ``storage_key``; since Dify 1.14 a file input of a chat, completion or agent app
  (``conversations.inputs``, ``messages.inputs``) and a draft variable hold nothing else;
- a storage key: a column that holds one (``workflow_pauses.state_object_key``), or a key
  written into text;
- an offloaded payload: Dify cuts node inputs and outputs and draft variables that are too large
  (lists past 1,000 items, strings past 100,000 characters, payloads past 1,000 KiB) and stores
  the whole value as an object of its own; that object's content names files like a column does.

``SOURCES`` lists the columns (with the first Dify release whose schema has each), ``PAYLOADS``
the objects whose content is read, and ``QUIET_TABLES``/``QUIET_COLUMNS`` every other text-like
column of every supported Dify release with why it never names a file. A column that is in none
of them (a Dify newer than this package) is searched anyway: an unknown column can only keep a
file, never lose one. Dify's own ``clear-orphaned-file-records`` searches 14 columns and misses
the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

# A file id as Dify writes it, anywhere in a value.
UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# What the reference search looks for in one pass: a file id (group 1), or the base64url body of
# a dify-file-ref (group 2; its padding, if any, outside).
MENTION_PATTERN = f"({UUID})" + r"|dify-file-ref:([A-Za-z0-9_-]+)"
# Inside a decoded dify-file-ref, and a File object's own storage key.
RECORD_ID_PATTERN = rf'"record_id"\s*:\s*"({UUID})"'
STORAGE_KEY_PATTERN = r'"storage_key"\s*:\s*"([^"]+)"'


def pattern_params() -> dict[str, str]:
    """The bind parameters every reference search takes."""
    return {
        "mention_pattern": MENTION_PATTERN,
        "record_id_pattern": RECORD_ID_PATTERN,
        "storage_key_pattern": STORAGE_KEY_PATTERN,
    }


@dataclass(frozen=True)
class Source:
    """A column whose values may name files.

    ``form`` is ``id`` when the whole value is a file id, else ``text`` (text or JSON searched for
    ids, dify-file-refs and keys). ``since`` is the first Dify release whose schema has the column
    (the tests check it against every real schema dump)."""

    table: str
    column: str
    form: str
    since: str
    what: str

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


def _id(table: str, column: str, since: str, what: str) -> Source:
    return Source(table, column, "id", since, what)


def _text(table: str, column: str, since: str, what: str) -> Source:
    return Source(table, column, "text", since, what)


SOURCES: tuple[Source, ...] = (
    # id columns
    _id("message_files", "upload_file_id", "0.3.30", "a file attached to a message: an upload, or a tool file's id"),
    _id("workflow_node_execution_offload", "file_id", "1.9.0", "the upload holding an offloaded node input or output"),
    _id("workflow_draft_variable_files", "upload_file_id", "1.9.0", "the upload holding an offloaded draft variable"),
    _id("segment_attachment_bindings", "attachment_id", "1.11.0", "an image attached to a knowledge chunk"),
    _id("human_input_form_upload_files", "upload_file_id", "1.15.0", "a file sent to a human-input form"),
    _id("agent_drive_files", "file_id", "1.15.0", "an upload or tool file in an agent's drive"),
    # conversations and messages
    _text("messages", "inputs", "0.2.1", "input variables; since 1.14 a file input is a dify-file-ref only"),
    _text("messages", "message", "0.2.1", "the prompt sent, with file parts"),
    _text("messages", "answer", "0.2.1", "links to generated and uploaded files"),
    _text("messages", "message_metadata", "0.6.0", "retrieved knowledge images (files[].id, source_url)"),
    _text("messages", "override_model_configs", "0.2.1", "a debug run's copy of the app config (file defaults)"),
    _text("message_files", "url", "0.3.30", "/files/tools/<id> and signed file-preview links"),
    _text("message_agent_thoughts", "message_files", "0.5.0", "the message files an agent step produced"),
    _text("message_agent_thoughts", "observation", "0.2.1", "tool results with file links"),
    _text("message_agent_thoughts", "tool_input", "0.2.1", "tool arguments naming files"),
    _text("message_annotations", "content", "0.2.1", "an annotated answer with file links"),
    _text("app_annotation_hit_histories", "annotation_content", "0.3.34", "a copy of an annotation's answer"),
    _text("app_annotation_hit_histories", "annotation_question", "0.3.34", "a copy of an annotation's question"),
    _text("conversations", "inputs", "0.2.1", "input variables; since 1.14 a file input is a dify-file-ref only"),
    _text("conversations", "introduction", "0.2.1", "the opening statement shown"),
    _text("conversations", "system_instruction", "0.2.1", "the system prompt used"),
    _text("conversations", "override_model_configs", "0.2.1", "a debug run's copy of the app config (file defaults)"),
    # workflows
    _text("workflow_node_executions", "inputs", "0.6.0", "node inputs (File objects, cut at 1,000 items)"),
    _text("workflow_node_executions", "process_data", "0.6.0", "node process data"),
    _text("workflow_node_executions", "outputs", "0.6.0", "node outputs (File objects, cut at 1,000 items)"),
    _text("workflow_node_executions", "execution_metadata", "0.6.0", "a datasource node's file (related_id, reference)"),
    _text("workflow_runs", "inputs", "0.6.0", "run inputs"),
    _text("workflow_runs", "outputs", "0.6.0", "run outputs"),
    _text("workflow_runs", "graph", "0.6.0", "the run's copy of the graph (file defaults)"),
    _text("workflow_trigger_logs", "inputs", "1.10.0", "webhook files (tool files)"),
    _text("workflow_trigger_logs", "trigger_data", "1.10.0", "webhook files (tool files)"),
    _text("workflow_trigger_logs", "outputs", "1.10.0", "outputs of a triggered run (dify-file-ref)"),
    _text("workflow_draft_variables", "value", "1.4.1", "a draft variable; a file is a dify-file-ref only"),
    _text("workflow_conversation_variables", "data", "0.7.0", "a conversation variable's value"),
    _text("workflows", "graph", "0.6.0", "file defaults of start and form nodes"),
    _text("workflows", "features", "0.6.0", "opening statement and file settings"),
    _text("workflows", "environment_variables", "0.6.15", "environment variables"),
    _text("workflows", "conversation_variables", "0.7.0", "conversation variable defaults"),
    _text("workflows", "rag_pipeline_variables", "1.9.0", "knowledge-pipeline variable defaults"),
    _text("human_input_forms", "submitted_data", "1.13.0", "what a person submitted, files included"),
    _text("human_input_forms", "rendered_content", "1.13.0", "the form as shown, with file links"),
    _text("human_input_forms", "form_definition", "1.13.0", "the form with its default values"),
    # knowledge
    _text("documents", "data_source_info", "0.2.1", "the uploaded source file (upload_file_id, related_id, reference)"),
    _text("documents", "file_id", "0.2.1", "the source file's id (older documents)"),
    _text("document_segments", "content", "0.2.1", "image-preview links in a chunk"),
    _text("document_segments", "answer", "0.3.12", "a Q&A chunk's answer, which may copy image links"),
    _text("child_chunks", "content", "0.15.0", "image-preview links in a child chunk"),
    _text("datasets", "icon_info", "1.9.0", "an image icon"),
    _text("dataset_queries", "content", "0.2.1", "an image query's file id"),
    _text("dataset_retriever_resources", "content", "0.3.22", "a copy of a retrieved chunk's text"),
    _text("embeddings", "hash", "0.2.1", "an image embedding is cached under its file's id"),
    _text("document_pipeline_execution_logs", "datasource_info", "1.9.0", "a pipeline run's source file"),
    _text("document_pipeline_execution_logs", "input_data", "1.9.0", "a pipeline run's file inputs"),
    _text("pipeline_customized_templates", "icon", "1.9.0", "an image icon"),
    _text("pipeline_customized_templates", "yaml_content", "1.9.0", "the exported pipeline: icon and file defaults"),
    _text("pipeline_built_in_templates", "icon", "1.9.0", "an image icon"),
    _text("pipeline_built_in_templates", "yaml_content", "1.9.0", "the pipeline: icon and file defaults"),
    # apps, agents, tools, icons
    _text("app_model_configs", "opening_statement", "0.2.1", "the opening statement"),
    _text("app_model_configs", "user_input_form", "0.2.1", "file defaults of input variables"),
    _text("app_model_configs", "pre_prompt", "0.2.1", "the prompt, which may link a file"),
    _text("apps", "icon", "0.2.1", "an image icon is an upload id"),
    _text("sites", "icon", "0.2.1", "an image icon is an upload id"),
    _text("accounts", "avatar", "0.2.1", "an upload id"),
    _text("tenants", "custom_config", "0.3.34", "the replaced web-app logo"),
    _text("tool_api_providers", "icon", "0.5.0", "a provider icon"),
    _text("tool_workflow_providers", "icon", "0.6.9", "a provider icon"),
    _text("tool_mcp_providers", "icon", "1.6.0", "an image icon is a plain upload id"),
    _text("agents", "icon", "1.15.0", "an image icon is an upload id"),
    _text("customized_snippets", "icon_info", "1.15.0", "an image icon"),
    _text("agent_config_snapshots", "config_snapshot", "1.15.0", "an agent's files and skills (file_id, reference)"),
    _text("agent_config_drafts", "config_snapshot", "1.16.0", "an agent's files and skills (file_id, reference)"),
    _text("workflow_agent_node_bindings", "node_job_config", "1.15.0", "file_refs and benchmark files of an agent node"),
    _text("agent_runtime_sessions", "session_snapshot", "1.15.0", "an agent session: prompts with dify-file-refs"),
    _text("agent_runtime_sessions", "composition_layer_specs", "1.15.0", "an agent session's layers"),
)

# Columns that hold a storage key: the object at that key is kept while the row lives, and is
# compared by key, not searched (orphans/_refs.sql, named_keys). upload_files.key and
# tool_files.file_key are the file tables' own.
KEY_COLUMNS: tuple[tuple[str, str], ...] = (("workflow_pauses", "state_object_key"),)


@dataclass(frozen=True)
class Payload:
    """Objects whose content names files while the row that points at them lives
    (orphans/payload_objects.sql lists them)."""

    name: str
    table: str
    since: str
    what: str


PAYLOADS: tuple[Payload, ...] = (
    Payload(
        "workflow_node_execution_offload (payload)",
        "workflow_node_execution_offload",
        "1.9.0",
        "a node's whole inputs or outputs",
    ),
    Payload(
        "workflow_draft_variable_files (payload)", "workflow_draft_variable_files", "1.9.0", "a draft variable's whole value"
    ),
    Payload("workflow_pauses (state)", "workflow_pauses", "1.10.0", "a paused run's variables"),
)

# Tables none of whose columns names a stored file: credentials and model settings, logs of
# other things, ids and states only. (Checked against Dify's source for every release.)
QUIET_TABLES: dict[str, str] = {
    "account_integrates": "login-provider tokens",
    "account_plugin_permissions": "permissions",
    "account_step_by_step_tour_states": "UI state",
    "account_trial_app_records": "ids",
    "agent_config_revisions": "a summary and a version note",
    "agent_debug_conversations": "ids",
    "alembic_version": "the schema revision",
    "api_based_extensions": "endpoint and key of an extension",
    "api_requests": "no writer in Dify",
    "api_tokens": "tokens",
    "app_annotation_settings": "settings",
    "app_dataset_joins": "ids",
    "app_mcp_servers": "an app's MCP server settings",
    "app_stars": "ids",
    "app_triggers": "trigger settings",
    "celery_taskmeta": "task results, transient",
    "celery_tasksetmeta": "task results, transient",
    "credential_permissions": "permissions",
    "data_source_api_key_auth_bindings": "credentials",
    "data_source_oauth_bindings": "OAuth tokens and Notion metadata",
    "dataset_auto_disable_logs": "ids",
    "dataset_collection_bindings": "vector collections",
    "dataset_keyword_tables": "a keyword index (its file keyword_files/<tenant>/<dataset>.txt is named by the dataset)",
    "dataset_metadata_bindings": "ids",
    "dataset_metadatas": "metadata field names",
    "dataset_permissions": "permissions",
    "dataset_process_rules": "chunking rules",
    "datasource_oauth_params": "credentials",
    "datasource_oauth_tenant_params": "credentials",
    "datasource_providers": "credentials and an OAuth avatar URL",
    "dify_setups": "the install's version",
    "document_segment_summaries": "model-written summaries",
    "end_users": "ids and names",
    "execution_extra_contents": "ids",
    "exporle_banners": "banner text, set by hand",
    "external_knowledge_apis": "endpoint settings",
    "external_knowledge_bindings": "ids",
    "human_input_form_deliveries": "delivery settings",
    "human_input_form_recipients": "recipients",
    "human_input_form_upload_tokens": "tokens",
    "installed_apps": "ids",
    "invitation_codes": "codes",
    "load_balancing_model_configs": "credentials",
    "message_chains": "no writer in Dify",
    "message_feedbacks": "a rating and a comment",
    "oauth_access_tokens": "tokens",
    "oauth_provider_apps": "OAuth client settings",
    "operation_logs": "no writer in Dify",
    "pinned_conversations": "ids",
    "pipeline_recommended_plugins": "plugin ids",
    "pipelines": "a name and a description",
    "provider_credentials": "credentials",
    "provider_model_credentials": "credentials",
    "provider_model_settings": "model settings",
    "provider_models": "credentials",
    "provider_orders": "payments",
    "providers": "credentials",
    "rate_limit_logs": "counters",
    "recommended_apps": "catalogue text",
    "saved_messages": "ids",
    "tag_bindings": "ids",
    "tags": "names",
    "tenant_account_joins": "ids and roles",
    "tenant_credit_pools": "credits",
    "tenant_default_models": "model names",
    "tenant_plugin_auto_upgrade_strategies": "plugin lists",
    "tenant_preferred_model_providers": "provider names",
    "tidb_auth_bindings": "credentials",
    "tool_builtin_providers": "credentials",
    "tool_conversation_variables": "no writer in Dify",
    "tool_label_bindings": "labels",
    "tool_model_invokes": "text prompts of tool LLM calls",
    "tool_oauth_system_clients": "credentials",
    "tool_oauth_tenant_clients": "credentials",
    "tool_published_apps": "descriptions",
    "trace_app_config": "tracing settings",
    "trial_apps": "ids",
    "trigger_oauth_system_clients": "credentials",
    "trigger_oauth_tenant_clients": "credentials",
    "trigger_subscriptions": "credentials and endpoints",
    "whitelists": "categories",
    "workflow_app_logs": "ids",
    "workflow_archive_logs": "a run's status and trigger metadata (plugin icons by name)",
    "workflow_comment_mentions": "ids",
    "workflow_comment_replies": "comment text",
    "workflow_comments": "comment text",
    "workflow_pause_reasons": "ids and a message",
    "workflow_plugin_triggers": "trigger settings",
    "workflow_run_archive_bundles": "Dify's own archive index (a separate archive bucket)",
    "workflow_schedule_plans": "schedules",
    "workflow_webhook_triggers": "ids",
    # the file tables themselves (upload_files.source_url is the file's own signed link)
    "upload_files": "the files",
    "tool_files": "the files",
}

# In tables that do name files, the columns that do not: names, states, enums, model names,
# hashes, settings, and ids of rows that are not files.
QUIET_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "email",
        "interface_language",
        "interface_theme",
        "last_login_ip",
        "name",
        "password",
        "password_salt",
        "timezone",
    ),
    "agent_config_drafts": ("draft_owner_key",),
    "agent_config_snapshots": ("summary", "version_note"),
    "agent_drive_files": ("hash", "key", "mime_type", "skill_metadata"),
    "agent_runtime_sessions": ("backend_run_id", "node_execution_id", "node_id", "pending_tool_call_id"),
    "agents": ("description", "icon_background", "name", "role", "roster_unique_name", "workflow_node_id"),
    "app_annotation_hit_histories": ("question", "source"),
    "app_model_configs": (
        "agent_mode",
        "chat_prompt_config",
        "completion_prompt_config",
        "configs",
        "dataset_configs",
        "dataset_query_variable",
        "external_data_tools",
        "file_upload",
        "model",
        "model_id",
        "more_like_this",
        "prompt_type",
        "provider",
        "retriever_resource",
        "sensitive_word_avoidance",
        "speech_to_text",
        "suggested_questions",
        "suggested_questions_after_answer",
        "text_to_speech",
    ),
    "apps": ("description", "icon_background", "icon_type", "mode", "name", "status", "tracing"),
    "child_chunks": ("error", "index_node_hash", "index_node_id", "type"),
    "conversations": ("from_source", "invoke_from", "mode", "model_id", "model_provider", "name", "status", "summary"),
    "customized_snippets": ("description", "input_fields", "name", "type"),
    "dataset_queries": ("created_by_role", "source"),
    "dataset_retriever_resources": ("data_source_type", "dataset_name", "document_name", "index_node_hash", "retriever_from"),
    "datasets": (
        "chunk_structure",
        "data_source_type",
        "description",
        "embedding_model",
        "embedding_model_provider",
        "index_struct",
        "indexing_technique",
        "name",
        "permission",
        "provider",
        "retrieval_model",
        "runtime_mode",
        "summary_index_setting",
    ),
    "document_pipeline_execution_logs": ("datasource_node_id", "datasource_type"),
    "document_segments": ("error", "index_node_hash", "index_node_id", "keywords", "status"),
    "documents": (
        "archived_reason",
        "batch",
        "created_from",
        "data_source_type",
        "doc_form",
        "doc_language",
        "doc_metadata",
        "doc_type",
        "error",
        "indexing_status",
        "name",
    ),
    "embeddings": ("model_name", "provider_name"),
    "human_input_forms": ("node_id", "selected_action_id"),
    "message_agent_thoughts": (
        "answer",
        "created_by_role",
        "currency",
        "message",
        "thought",
        "tool",
        "tool_labels_str",
        "tool_meta_str",
        "tool_process_data",
    ),
    "message_annotations": ("question",),
    "message_files": ("belongs_to", "created_by_role", "transfer_method", "type"),
    "messages": ("app_mode", "currency", "error", "from_source", "invoke_from", "model_id", "model_provider", "query", "status"),
    "pipeline_built_in_templates": ("chunk_structure", "copyright", "description", "language", "name", "privacy_policy"),
    "pipeline_customized_templates": ("chunk_structure", "description", "language", "name"),
    "sites": (
        "chat_color_theme",
        "code",
        "copyright",
        "custom_disclaimer",
        "customize_domain",
        "customize_token_strategy",
        "default_language",
        "description",
        "icon_background",
        "icon_type",
        "input_placeholder",
        "privacy_policy",
        "status",
        "title",
    ),
    "tenants": ("encrypt_public_key", "name", "plan", "status"),
    "tool_api_providers": (
        "credentials_str",
        "custom_disclaimer",
        "description",
        "name",
        "privacy_policy",
        "schema",
        "schema_type_str",
        "tools_str",
    ),
    "tool_mcp_providers": (
        "encrypted_credentials",
        "encrypted_headers",
        "name",
        "server_identifier",
        "server_url",
        "server_url_hash",
        "tools",
    ),
    "tool_workflow_providers": ("description", "label", "name", "parameter_configuration", "privacy_policy", "version"),
    "workflow_agent_node_bindings": ("node_id", "workflow_version"),
    # file_id names a workflow_draft_variable_files row, whose upload_file_id is a source
    "workflow_draft_variables": ("description", "file_id", "name", "node_id", "selector"),
    "workflow_node_executions": (
        "created_by_role",
        "error",
        "node_execution_id",
        "node_id",
        "node_type",
        "predecessor_node_id",
        "status",
        "title",
        "triggered_from",
    ),
    "workflow_runs": ("created_by_role", "error", "status", "triggered_from", "type", "version"),
    "workflow_trigger_logs": (
        "celery_task_id",
        "created_by",
        "created_by_role",
        "error",
        "queue_name",
        "root_node_id",
        "status",
        "trigger_metadata",
        "trigger_type",
    ),
    "workflows": ("kind", "marked_comment", "marked_name", "type", "version"),
}

# Column types that can hold a file id, a reference or a key; uuid columns only when their name
# says file (other uuid columns name tenants, apps, accounts, runs...).
TEXT_TYPES = ("text", "json", "jsonb", "character varying", "character")
FILE_LIKE_NAME = ("file", "attachment", "icon", "avatar", "logo", "image")
SHORTEST_REFERENCE = 36  # a uuid; a varchar shorter than this can hold none


def may_name_files(column: str, data_type: str, max_length: int | None) -> bool:
    """Whether a column's type could hold a file reference at all."""
    if data_type == "uuid":
        return any(word in column for word in FILE_LIKE_NAME)
    if data_type not in TEXT_TYPES:
        return False
    return max_length is None or max_length >= SHORTEST_REFERENCE


def is_quiet(table: str, column: str) -> bool:
    return table in QUIET_TABLES or column in QUIET_COLUMNS.get(table, ()) or (table, column) in KEY_COLUMNS


def unlisted(columns: list[dict]) -> list[Source]:
    """Columns (``table_name``, ``column_name``, ``data_type``, ``max_length``) that could name a
    file and that the catalog neither lists nor calls quiet: a newer Dify's. Searched anyway."""
    known = {(s.table, s.column) for s in SOURCES}
    found = []
    for c in columns:
        table, column = c["table_name"], c["column_name"]
        if (table, column) in known or is_quiet(table, column):
            continue
        if may_name_files(column, c["data_type"], c["max_length"]):
            form = "id" if c["data_type"] == "uuid" else "text"
            found.append(Source(table, column, form, "unknown", "a column this package does not know (searched to be safe)"))
    return found


def present(columns: list[dict]) -> list[Source]:
    """The sources this database has: the catalog's, then the unlisted columns."""
    have = {(c["table_name"], c["column_name"]) for c in columns}
    return [s for s in SOURCES if (s.table, s.column) in have] + unlisted(columns)


def by_table(sources: list[Source]) -> dict[str, list[Source]]:
    """Sources grouped by table, in catalog order: a table is read once for all its columns."""
    grouped: dict[str, list[Source]] = {}
    for s in sources:
        grouped.setdefault(s.table, []).append(s)
    return grouped


def source_named(name: str, sources: list[Source]) -> Source:
    for source in sources:
        if source.name == name:
            return source
    raise KeyError(name)
