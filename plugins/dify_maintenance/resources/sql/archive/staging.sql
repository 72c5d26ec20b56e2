-- An empty session table shaped like the columns being restored; dropped at commit.
CREATE TEMP TABLE _dm_restore ON COMMIT DROP AS
SELECT {% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}
FROM {{ "public"|ident }}.{{ table|ident }} WITH NO DATA
