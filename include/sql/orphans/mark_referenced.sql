-- Candidates whose id appears in this slice of a Dify column are referenced, so they are kept.
-- The slice is a range of heap pages (a TID range scan): a short statement whatever the table's size.
UPDATE dify_maintenance.file_candidates AS c
SET referenced_by = %(source)s
FROM (
{% if direct %}
    -- an id column: its value is the id (checked first, as old versions keep ids in varchar)
    SELECT DISTINCT lower(t.{{ column|ident }}::text)::uuid AS id
    FROM {{ "public"|ident }}.{{ table|ident }} AS t
    WHERE t.{{ column|ident }}::text ~ %(exact)s
{% else %}
    SELECT DISTINCT lower(m[1])::uuid AS id
    FROM {{ "public"|ident }}.{{ table|ident }} AS t
    CROSS JOIN LATERAL regexp_matches(t.{{ column|ident }}::text, %(pattern)s, 'g') AS m
    WHERE t.{{ column|ident }} IS NOT NULL
{% endif %}
{% if ranged %}
      AND t.ctid >= %(low)s::tid AND t.ctid < %(high)s::tid
{% endif %}
) AS x
WHERE c.run_key = %(run_key)s AND c.file_id = x.id AND c.referenced_by IS NULL
