-- Dify 1.11.3+ batch selection: keyset pagination on (created_at, id), optionally ended runs only.
SELECT t.id, t.created_at{% for c in extra %}, t.{{ c|ident }}{% endfor %}

FROM {{ "public"|ident }}.{{ table|ident }} AS t
WHERE t.created_at < %(cutoff)s
{% if ended_only %}  AND t.status = ANY(%(statuses)s){% endif %}
{% if has_cursor %}  AND (t.created_at, t.id) > (%(after_ts)s, %(after_id)s){% endif %}
ORDER BY t.created_at, t.id
LIMIT %(limit)s
