-- Heap pages of a Dify table now: the reference scan walks them in slices.
SELECT (pg_relation_size(to_regclass(quote_ident('public') || '.' || quote_ident(%(table)s)))
        / current_setting('block_size')::bigint) AS pages
