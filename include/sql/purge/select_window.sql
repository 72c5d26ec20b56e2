{% import "purge/_macros.sql" as m %}
-- One window of the walk over a root table, and the expired rows in it that are in scope.
-- keyset: ordered by (recency, key) through an index, only expired rows are visited.
-- ctid: a range of heap blocks (TID Range Scan, PostgreSQL 14+); each window reads only its own
--       blocks, so the whole walk is one forward pass over the table, whatever its indexes.
-- pk: ordered by the primary key, each window reads `limit` rows once (servers before 14).
WITH win AS (
    SELECT {{ m.cols("r", carry) }}
    FROM {{ "public"|ident }}.{{ table|ident }} AS r
{% if walk == "ctid" %}
    WHERE r.ctid >= %(from_tid)s::tid AND r.ctid < %(to_tid)s::tid
{% else %}
    WHERE {% if walk == "keyset" %}r.{{ keyset_column|ident }} < %(cutoff)s{% if has_cursor %} AND (r.{{ keyset_column|ident }}, r.{{ key|ident }}) > (%(after_ts)s, %(after_key)s){% endif %}{% else %}{% if has_cursor %}r.{{ key|ident }} > %(after_key)s{% else %}TRUE{% endif %}{% endif %}

    ORDER BY {% if walk == "keyset" %}r.{{ keyset_column|ident }}, {% endif %}r.{{ key|ident }}
    LIMIT %(limit)s
{% endif %}
), matched AS (
    INSERT INTO {{ cand|ident }} ({{ m.names(carry) }})
    SELECT {{ m.cols("w", carry) }}
    FROM win AS w
    WHERE {{ m.expired("w", recency, only_null, scope_columns, filters) }}
{% if has_exclusions %}
      {# a redone batch leaves out the roots a concurrent write touched while it ran #}
      AND NOT (w.{{ key|ident }}::text = ANY(%(excluded)s))
{% endif %}
    RETURNING 1
){% if walk != "ctid" %}, last AS (
    SELECT {% if walk == "keyset" %}w.{{ keyset_column|ident }} AS last_ts, {% endif %}w.{{ key|ident }}::text AS last_key
    FROM win AS w
    ORDER BY {% if walk == "keyset" %}w.{{ keyset_column|ident }} DESC, {% endif %}w.{{ key|ident }} DESC
    LIMIT 1
){% endif %}

SELECT (SELECT count(*) FROM win) AS scanned,
       (SELECT count(*) FROM matched) AS matched{% if walk != "ctid" %},
       last.*
FROM (SELECT 1) AS one LEFT JOIN last ON TRUE{% endif %}
