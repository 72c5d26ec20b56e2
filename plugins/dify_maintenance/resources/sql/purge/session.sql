-- Bound every statement of this batch's transaction; every setting ends with the transaction.
-- Join methods: a short batch is a few thousand roots, and every lookup it makes has an index, so
-- its plans are index nested loops whose cost grows with the batch. Left to itself the planner
-- often prefers hashing a whole child table (cheaper once, but paid again in every batch, and
-- growing with the table); statements whose lookup has no index switch hashing back on.
-- With a run key: whether this run still holds the maintenance claim (a read, in the same round trip).
SELECT set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('lock_timeout', %(lock_timeout)s, true),
       set_config('enable_hashjoin', %(hash_joins)s, true),
       set_config('enable_mergejoin', %(hash_joins)s, true)
{% if claim %}
       , EXISTS (SELECT 1 FROM dify_maintenance.claim WHERE lock_name = %(lock_name)s AND run_key = %(run_key)s) AS holds
{% endif %}
