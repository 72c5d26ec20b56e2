"""Dify's files: where rows reference files, the orphaned files and their quarantine, and the
verified migration between storages."""
