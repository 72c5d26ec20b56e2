-- The children a surviving row owns survive with it (node executions of a running run, ...).
INSERT INTO bench_truth.keep (tbl, id)
SELECT %(child_tbl)s, c.id
FROM {{ "public"|ident }}.{{ child|ident }} AS c
JOIN bench_truth.keep AS k ON k.tbl = %(parent_tbl)s AND k.id = c.{{ column|ident }}
ON CONFLICT DO NOTHING
