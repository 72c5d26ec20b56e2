-- WAL segments waiting for the archiver; needs pg_monitor or superuser, skipped otherwise.
SELECT count(*) AS ready FROM pg_ls_archive_statusdir() WHERE name LIKE '%%.ready'
