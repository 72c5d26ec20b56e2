-- Built on request (the form's create_index): concurrently, so Dify keeps writing; kept, since
-- cleanup-pg and Dify's own cleanups read by created_at too.
CREATE INDEX CONCURRENTLY IF NOT EXISTS {{ name|ident }} ON {{ table|ident }} (created_at, id)
