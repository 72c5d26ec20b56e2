-- Does this database already keep our history (a run got past preflight here before)?
SELECT to_regclass('dify_maintenance.history') IS NOT NULL AS found
