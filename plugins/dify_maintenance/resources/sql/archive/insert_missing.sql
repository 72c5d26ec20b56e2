-- Idempotent: rows already present (restored before, or never deleted) are left as they are.
INSERT INTO {{ "public"|ident }}.{{ table|ident }} ({% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %})
SELECT {% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %} FROM _dm_restore
ON CONFLICT DO NOTHING
