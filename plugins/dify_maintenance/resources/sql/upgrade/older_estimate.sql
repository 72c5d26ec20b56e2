-- The planner's estimate of rows older than the cutoff (nothing is read): how much of a table
-- the planned purge removes, for the "after the purge" column of the upgrade impact.
EXPLAIN (FORMAT JSON)
SELECT 1 FROM {{ "public"|ident }}.{{ table|ident }} WHERE {{ column|ident }} < %(cutoff)s
