-- Phase 1 of a rebuild (inside one transaction): block writes, keep reads, and build the new
-- table with the kept rows and every index under a temporary name.
SET LOCAL lock_timeout = {{ lock_timeout_ms|int }};
LOCK TABLE {{ "public"|ident }}.{{ table|ident }} IN EXCLUSIVE MODE;
CREATE TABLE {{ "public"|ident }}.{{ new_table|ident }} (LIKE {{ "public"|ident }}.{{ table|ident }}
    INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING STATISTICS
    {%- if compression %} INCLUDING COMPRESSION{% endif %});
INSERT INTO {{ "public"|ident }}.{{ new_table|ident }} ({% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %})
SELECT {% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}

FROM {{ "public"|ident }}.{{ table|ident }}
{% if keep_column %}
WHERE {{ keep_column|ident }} >= {{ keep_from|literal }}
{% endif %}
;
{% for ix in indexes %}
CREATE {{ "UNIQUE " if ix.unique }}INDEX {{ ix.temp_name|ident }} ON {{ "public"|ident }}.{{ new_table|ident }} USING {{ ix.method_and_keys }};
{% endfor %}
ANALYZE {{ "public"|ident }}.{{ new_table|ident }}
