-- Archived rows whose key is taken by a different row now (Dify reused the key after the purge):
-- left alone by the insert, reported as conflicts. Rows equal to the archived one were restored before.
SELECT count(*) AS conflicts
FROM _dm_restore AS s
JOIN {{ "public"|ident }}.{{ table|ident }} AS x
  ON {% for k in keys %}x.{{ k|ident }} = s.{{ k|ident }}{{ " AND " if not loop.last }}{% endfor %}
WHERE ROW({% for c in columns %}s.{{ c|ident }}::text{{ ", " if not loop.last }}{% endfor %})
      IS DISTINCT FROM ROW({% for c in columns %}x.{{ c|ident }}::text{{ ", " if not loop.last }}{% endfor %})
