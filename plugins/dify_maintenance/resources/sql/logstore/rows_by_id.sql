-- Rows by primary key (validation's sample).
SELECT {% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}

FROM {{ table|ident }}
WHERE id = ANY(%(ids)s::uuid[])
