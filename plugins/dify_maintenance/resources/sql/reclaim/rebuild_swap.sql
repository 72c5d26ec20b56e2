-- Phase 2: swap the rebuilt table in, under the ACCESS EXCLUSIVE lock just taken, and give it
-- back its names, sequences, privileges, owner, options, replica identity and comment.
{% for seq in sequences %}
ALTER SEQUENCE {{ "public"|ident }}.{{ seq.name|ident }} OWNED BY {{ "public"|ident }}.{{ new_table|ident }}.{{ seq.column|ident }};
{% endfor %}
-- The old table steps aside under another name (dropped right after the commit: unlinking
-- gigabytes of files must not happen while readers wait); its index names are freed the same way.
ALTER TABLE {{ "public"|ident }}.{{ table|ident }} RENAME TO {{ old_table|ident }};
{% for ix in indexes %}
ALTER INDEX {{ "public"|ident }}.{{ ix.name|ident }} RENAME TO {{ ix.old_name|ident }};
{% endfor %}
ALTER TABLE {{ "public"|ident }}.{{ new_table|ident }} RENAME TO {{ table|ident }};
{% for ix in indexes %}
{% if ix.constraint_name %}
ALTER TABLE {{ "public"|ident }}.{{ table|ident }} ADD CONSTRAINT {{ ix.constraint_name|ident }}
    {{ "PRIMARY KEY" if ix.constraint_type == "p" else "UNIQUE" }} USING INDEX {{ ix.temp_name|ident }}
    {{- " DEFERRABLE" if ix.deferrable }}{{ " INITIALLY DEFERRED" if ix.deferred }};
{% if ix.constraint_name != ix.name %}
ALTER INDEX {{ "public"|ident }}.{{ ix.constraint_name|ident }} RENAME TO {{ ix.name|ident }};
{% endif %}
{% else %}
ALTER INDEX {{ "public"|ident }}.{{ ix.temp_name|ident }} RENAME TO {{ ix.name|ident }};
{% endif %}
{% endfor %}
{% if owner %}
ALTER TABLE {{ "public"|ident }}.{{ table|ident }} OWNER TO {{ owner|ident }};
{% endif %}
{% if grants %}
REVOKE ALL ON TABLE {{ "public"|ident }}.{{ table|ident }} FROM {{ owner|ident }};
{% endif %}
{% for g in grants %}
GRANT {{ g.privilege|sqlword }} ON TABLE {{ "public"|ident }}.{{ table|ident }} TO {{ g.grantee|ident if g.grantee else "PUBLIC" }}{{ " WITH GRANT OPTION" if g.grantable }};
{% endfor %}
{% for opt in options %}
ALTER TABLE {{ "public"|ident }}.{{ table|ident }} SET ({{ opt.name|ident }} = {{ opt.value|literal }});
{% endfor %}
{% if replica_identity == "f" %}
ALTER TABLE {{ "public"|ident }}.{{ table|ident }} REPLICA IDENTITY FULL;
{% elif replica_identity == "n" %}
ALTER TABLE {{ "public"|ident }}.{{ table|ident }} REPLICA IDENTITY NOTHING;
{% elif replica_identity == "i" %}
ALTER TABLE {{ "public"|ident }}.{{ table|ident }} REPLICA IDENTITY USING INDEX {{ replica_index|ident }};
{% endif %}
{% if comment %}
COMMENT ON TABLE {{ "public"|ident }}.{{ table|ident }} IS {{ comment|literal }};
{% endif %}
SELECT 1
