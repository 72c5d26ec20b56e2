{% from "logstore/_scope.sql" import scope %}
-- The next rows of a stream after its watermark, in (created_at, id) order: read through a
-- server-side cursor, one segment per short transaction, so memory stays flat and no snapshot
-- is held for the whole month.
SELECT {% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}

FROM {{ table|ident }}
WHERE {{ scope(tenants) }}
{% if after %}
  AND (created_at, id) > (%(after_at)s, %(after_id)s::uuid)
{% endif %}
ORDER BY created_at, id
LIMIT %(limit)s
