-- The created_at above which the newest ``keep`` share of the table lies.
SELECT percentile_disc(1 - %(keep)s) WITHIN GROUP (ORDER BY created_at) AS cutoff
FROM {{ "public"|ident }}.{{ table|ident }}
