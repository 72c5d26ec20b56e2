"""Workflow logs in Elasticsearch or OpenSearch: migrate, validate, status, index retention, and
the gate that lets the purge engine delete migrated rows from PostgreSQL (cleanup-pg)."""
