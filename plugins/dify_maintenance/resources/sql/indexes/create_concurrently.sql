-- A supporting index for a lookup that has none. CONCURRENTLY: Dify keeps writing meanwhile
-- (it must run outside a transaction block, on an autocommit connection). Partial: a lookup by
-- equality never matches a NULL, so those rows stay out of it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS {{ index|ident }} ON {{ "public"|ident }}.{{ table|ident }} ({{ column|ident }})
WHERE {{ column|ident }} IS NOT NULL
