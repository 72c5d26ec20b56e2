-- Put back only the listed rows of a staged archive part (the parents verify found a live write
-- naming); rows present already are left as they are.
INSERT INTO {{ "public"|ident }}.{{ table|ident }} ({% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %})
SELECT {% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %} FROM _dm_restore
WHERE {{ key|ident }}::text = ANY(%(keys)s)
ON CONFLICT DO NOTHING
RETURNING {{ key|ident }}::text AS key
