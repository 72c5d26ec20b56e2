{% import "purge/_macros.sql" as m %}
-- The batch's root rows, carrying only the columns later statements need; emptied at commit.
CREATE TEMP TABLE IF NOT EXISTS {{ cand|ident }} ON COMMIT DELETE ROWS AS
SELECT {{ m.cols("r", carry) }} FROM {{ "public"|ident }}.{{ table|ident }} AS r WITH NO DATA
