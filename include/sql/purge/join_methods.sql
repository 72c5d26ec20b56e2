-- For the next statements of this batch: may the planner hash or merge (a lookup without an index)?
SELECT set_config('enable_hashjoin', %(hash_joins)s, true),
       set_config('enable_mergejoin', %(hash_joins)s, true)
