{% import "orphans/_refs.sql" as r %}
-- Candidates that one Dify table names, by file id or by storage key, through any of its source
-- columns, are referenced and kept. A scan reads a slice of heap pages (a TID range scan: a short
-- statement whatever the table's size). The check at the moment of moving reads only the rows
-- changed since the scan began (the scan read every other row), for one batch of candidates.
{% set named %}
    SELECT f.n, f.id, f.key
    FROM {{ "public"|ident }}.{{ table|ident }} AS t
    {{ r.row_mentions(columns) }}
    WHERE true
{% if ranged %}
      AND t.ctid >= %(low)s::tid AND t.ctid < %(high)s::tid
{% endif %}
{% if since %}
      AND {{ r.changed_since("t") }}
{% endif %}
{% endset %}
{{ r.mark(named, "(%(sources)s::text[])[h.n]" ~ (" || %(suffix)s" if since else ""), batch) }}
