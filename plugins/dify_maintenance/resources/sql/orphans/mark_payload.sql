{% import "orphans/_refs.sql" as r %}
-- Candidates that the payload pieces held in dm_payload_text name are referenced and kept.
{% set named %}
    SELECT t.n, x.id, x.key
    FROM dm_payload_text AS t
    CROSS JOIN LATERAL ({{ r.mentions("t.content") }}) AS x
{% endset %}
{{ r.mark(named, "(%(sources)s::text[])[h.n]" ~ (" || %(suffix)s" if during_collect else ""), false) }}
