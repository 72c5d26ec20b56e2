-- Our own bookkeeping lives in its own schema so it never mixes with Dify's tables or migrations.
CREATE SCHEMA IF NOT EXISTS dify_maintenance;

CREATE TABLE IF NOT EXISTS dify_maintenance.runs (
    run_key      text PRIMARY KEY,
    dag_id       text NOT NULL,
    run_id       text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    cutoffs      jsonb NOT NULL,
    policy       jsonb NOT NULL,
    dify_version text NOT NULL,
    finished_at  timestamptz,
    outcome      text
);

CREATE TABLE IF NOT EXISTS dify_maintenance.claim (
    lock_name    text PRIMARY KEY,
    run_key      text NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS dify_maintenance.progress (
    run_key    text NOT NULL,
    family     text NOT NULL,
    stage      text NOT NULL,
    cursor     jsonb,
    done       boolean NOT NULL DEFAULT false,
    batches    integer NOT NULL DEFAULT 0,
    seconds    double precision NOT NULL DEFAULT 0,
    counters   jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_key, family, stage)
);

CREATE TABLE IF NOT EXISTS dify_maintenance.history (
    id          bigserial PRIMARY KEY,
    run_key     text NOT NULL,
    dag_id      text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    outcome     text NOT NULL,
    report      jsonb NOT NULL
);

-- Orphaned-file runs: every file row or object a run examined, why it was kept (referenced_by)
-- or what happened to it (outcome). Rows of a run survive its tasks, so a retry resumes.
CREATE TABLE IF NOT EXISTS dify_maintenance.file_candidates (
    id              bigserial PRIMARY KEY,
    run_key         text NOT NULL,
    kind            text NOT NULL,
    file_id         uuid,
    key             text NOT NULL,
    size            bigint,
    created_at      timestamp,
    object_size     bigint,
    object_modified timestamptz,
    referenced_by   text,
    rows_deleted    boolean NOT NULL DEFAULT false,
    outcome         text
);

CREATE INDEX IF NOT EXISTS file_candidates_run_file ON dify_maintenance.file_candidates (run_key, file_id);
CREATE INDEX IF NOT EXISTS file_candidates_run_key ON dify_maintenance.file_candidates (run_key, key);

-- Offloaded payloads and paused runs' state objects an orphaned-files run has read: a check at
-- the moment of moving reads only the ones that appeared since.
CREATE TABLE IF NOT EXISTS dify_maintenance.file_payloads (
    run_key text NOT NULL,
    key     text NOT NULL,
    kind    text NOT NULL,
    bytes   bigint NOT NULL,
    outcome text NOT NULL,
    read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_key, key)
);

-- A dry run's memory of the rows it would delete from tables that a later keep rule of the same
-- run reads (messages for conversations, conversations and messages for end users), so it
-- predicts what the real run deletes. Emptied when the run ends.
CREATE TABLE IF NOT EXISTS dify_maintenance.dry_run_ledger (
    run_key    text NOT NULL,
    table_name text NOT NULL,
    id         text NOT NULL,
    PRIMARY KEY (run_key, table_name, id)
)
;

-- Workflow logs moved to Elasticsearch/OpenSearch: one row per stream (data type, month, window
-- and tenants, for one cluster and index prefix) with its watermark, the last row of the last
-- acknowledged bulk request.
CREATE TABLE IF NOT EXISTS dify_maintenance.log_migration (
    stream_key    text PRIMARY KEY,
    cluster       text NOT NULL,
    index_prefix  text NOT NULL,
    layout        text NOT NULL,
    data_type     text NOT NULL,
    month         timestamp NOT NULL,
    tenants       text[],
    after_at      timestamp,
    after_id      text,
    docs_created  bigint NOT NULL DEFAULT 0,
    docs_existing bigint NOT NULL DEFAULT 0,
    docs_rejected bigint NOT NULL DEFAULT 0,
    done          boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- The oldest transaction running when the stream's last complete pass began (a 32-bit xid): a
-- row written since has an xmin at or after it, and the next pass rewrites its document.
ALTER TABLE dify_maintenance.log_migration ADD COLUMN IF NOT EXISTS pass_xid text;
ALTER TABLE dify_maintenance.log_migration ADD COLUMN IF NOT EXISTS docs_refreshed bigint NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS dify_maintenance.log_migration_rejects (
    stream_key text NOT NULL,
    doc_id     text NOT NULL,
    index_name text NOT NULL,
    reason     text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_key, doc_id)
);

-- Each validation of a window: cleanup-pg deletes only what a passing one proved present.
CREATE TABLE IF NOT EXISTS dify_maintenance.log_validations (
    id           bigserial PRIMARY KEY,
    run_key      text NOT NULL,
    cluster      text NOT NULL,
    index_prefix text NOT NULL,
    layout       text NOT NULL,
    data_types   text[] NOT NULL,
    tenants      text[],
    window_start timestamp,
    window_end   timestamp NOT NULL,
    passed       boolean NOT NULL,
    validated_at timestamptz NOT NULL DEFAULT now(),
    summary      jsonb NOT NULL
)
;
-- What a validation checked, so a gate can tell: the cluster's UUID and product, and whether
-- Dify can read what was checked (Elasticsearch 8/9, prefix dify, one index per tenant and month).
ALTER TABLE dify_maintenance.log_validations ADD COLUMN IF NOT EXISTS cluster_uuid text;
ALTER TABLE dify_maintenance.log_validations ADD COLUMN IF NOT EXISTS product text;
ALTER TABLE dify_maintenance.log_validations ADD COLUMN IF NOT EXISTS readable_by_dify boolean NOT NULL DEFAULT false;

-- The keys of rows a retention run deleted that other rows may name (roots, and a chatflow
-- message's run): verify checks every reference against them. Emptied when the run ends.
CREATE TABLE IF NOT EXISTS dify_maintenance.deleted_keys (
    run_key    text NOT NULL,
    table_name text NOT NULL,
    key        text NOT NULL,
    PRIMARY KEY (run_key, table_name, key)
);

-- Indexes this package built in Dify's database for its own lookups (named dm_idx_*): kept for
-- the next runs; DROP INDEX CONCURRENTLY removes one, and the next run that needs it builds it.
CREATE TABLE IF NOT EXISTS dify_maintenance.built_indexes (
    index_name    text PRIMARY KEY,
    table_name    text NOT NULL,
    column_name   text NOT NULL,
    built_at      timestamptz NOT NULL DEFAULT now(),
    build_seconds double precision NOT NULL
);

-- Table sizes and row estimates, taken hourly by dify_table_sizes (a year is kept): the growth
-- curves of the maintenance page.
CREATE TABLE IF NOT EXISTS dify_maintenance.table_sizes (
    taken_at    timestamptz NOT NULL,
    table_name  text NOT NULL,
    total_bytes bigint NOT NULL,
    heap_bytes  bigint NOT NULL,
    index_bytes bigint NOT NULL,
    live_rows   bigint NOT NULL,
    dead_rows   bigint NOT NULL,
    PRIMARY KEY (taken_at, table_name)
)
