{% import "purge/_macros.sql" as m %}
-- Take out of the batch the candidates one keep rule protects, and count them for the report.
WITH kept AS (
    DELETE FROM {{ cand|ident }} AS c
    WHERE {{ m.keep_condition(rule, "c", probe=probe) }}
    RETURNING 1
)
SELECT count(*) AS kept FROM kept
