-- Rows archived as JSON objects, back into columns: each value through its column type's input
-- function, as COPY would (json columns keep their text as written).
INSERT INTO _dm_restore ({% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %})
SELECT {% for c in columns %}r.{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}
FROM _dm_restore_json AS s
CROSS JOIN LATERAL json_populate_record(NULL::_dm_restore, s.j) AS r
