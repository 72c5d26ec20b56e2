"""The database as a whole: backups (pg_dump and its clients), space reclamation, the schema diff
against a Dify version, the upgrade impact of its migrations, and the pre-upgrade cleanup steps."""
