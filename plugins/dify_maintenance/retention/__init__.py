"""Retention: plan the purge of each root table, run it in short batches (archive first), report
progress, verify the invariants afterwards, build the report, and restore from the archive."""
