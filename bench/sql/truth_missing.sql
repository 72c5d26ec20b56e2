-- Rows that had to survive and are gone: deleted wrongly.
SELECT count(*) AS n FROM bench_truth.keep AS k
WHERE k.tbl = %(tbl)s AND NOT EXISTS (SELECT 1 FROM {{ "public"|ident }}.{{ table|ident }} AS t WHERE t.id = k.id)
