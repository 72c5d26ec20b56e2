-- Whether this database has our bookkeeping yet (a fresh one shows an empty page).
SELECT to_regclass('dify_maintenance.history') IS NOT NULL AS history,
       to_regclass('dify_maintenance.table_sizes') IS NOT NULL AS sizes
