-- How many files the database names, for the report.
SELECT (SELECT count(*) FROM upload_files) AS uploads
{% if has_tool_files %}
     , (SELECT count(*) FROM tool_files) AS tool_files
{% endif %}
