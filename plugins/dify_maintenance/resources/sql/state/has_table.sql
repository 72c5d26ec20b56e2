-- Does one of our bookkeeping tables exist here yet (a run got past preflight on this database)?
SELECT to_regclass(%(qualified)s) IS NOT NULL AS found
