-- Dify 1.9+ keeps large node payloads in storage, listed in this table.
SELECT to_regclass('workflow_node_execution_offload') IS NOT NULL AS present
