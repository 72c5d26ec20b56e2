-- A part written as JSON rows arrives here first, one row per line; dropped at commit.
CREATE TEMP TABLE _dm_restore_json (j json) ON COMMIT DROP
