-- A tool file belongs to its conversation: while the conversation exists it is kept.
UPDATE dify_maintenance.file_candidates AS c
SET referenced_by = 'conversations.id (the tool file''s conversation)'
FROM tool_files AS t
JOIN conversations AS cv ON cv.id = t.conversation_id
WHERE c.run_key = %(run_key)s AND c.kind = 'tool_file' AND c.file_id = t.id AND c.referenced_by IS NULL
