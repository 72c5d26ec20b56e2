-- The families each recorded run purged (its cutoffs are per family): what a restore may put back.
SELECT run_key, ARRAY(SELECT jsonb_object_keys(cutoffs)) AS families FROM dify_maintenance.runs
