{% import "purge/_macros.sql" as m %}
-- One primary-key window of a child table: rows older than the cutoff whose parent is gone
-- (left by earlier partial cleanups), or that never had one where that means garbage.
WITH win AS (
    SELECT {{ m.cols("t", keys) }}, t.{{ recency|ident }} AS _recency, t.{{ parent_column|ident }} AS _parent
    FROM {{ "public"|ident }}.{{ table|ident }} AS t
    {% if has_cursor %}WHERE ({{ m.cols("t", keys) }}) > ({% for k in keys %}%(after_{{ loop.index0 }})s{{ ", " if not loop.last }}{% endfor %}){% endif %}

    ORDER BY {{ m.cols("t", keys) }}
    LIMIT %(limit)s
), found AS (
    INSERT INTO {{ cand|ident }} ({{ m.names(keys) }})
    SELECT {{ m.cols("w", keys) }}
    FROM win AS w
    WHERE w._recency < %(cutoff)s
      AND ({% if null_is_orphan %}w._parent IS NULL OR {% endif %}(w._parent IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM {{ "public"|ident }}.{{ parent_table|ident }} AS p WHERE p.{{ parent_key|ident }} = w._parent)))
    RETURNING 1
), last AS (
    SELECT {% for k in keys %}w.{{ k|ident }}::text AS last_{{ loop.index0 }}{{ ", " if not loop.last }}{% endfor %}
    FROM win AS w
    ORDER BY {% for k in keys %}w.{{ k|ident }} DESC{{ ", " if not loop.last }}{% endfor %}
    LIMIT 1
)
SELECT (SELECT count(*) FROM win) AS scanned, (SELECT count(*) FROM found) AS matched, last.*
FROM (SELECT 1) AS one LEFT JOIN last ON TRUE
