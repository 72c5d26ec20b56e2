{% import "purge/_macros.sql" as m %}
CREATE TEMP TABLE IF NOT EXISTS {{ cand|ident }} ON COMMIT DELETE ROWS AS
SELECT {{ m.cols("t", keys) }} FROM {{ "public"|ident }}.{{ table|ident }} AS t WITH NO DATA
