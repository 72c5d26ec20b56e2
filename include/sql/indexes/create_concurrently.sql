-- A supporting index for a lookup that has none. CONCURRENTLY: Dify keeps writing meanwhile
-- (it must run outside a transaction block, on an autocommit connection).
CREATE INDEX CONCURRENTLY IF NOT EXISTS {{ index|ident }} ON {{ "public"|ident }}.{{ table|ident }} ({{ column|ident }})
