-- Bound every statement of this batch's transaction; both settings end with the transaction.
SELECT set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('lock_timeout', %(lock_timeout)s, true)
