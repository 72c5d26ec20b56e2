{# as_json: each line is one row as a JSON object (the purge's parts), read into one column #}
{% if as_json %}
COPY _dm_restore_json (j) FROM STDIN
{% else %}
COPY _dm_restore ({% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}) FROM STDIN
{% endif %}
