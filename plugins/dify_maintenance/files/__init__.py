"""Dify's files: its storage settings and OpenDAL stores, where rows reference files, the orphaned
files and their quarantine, and the verified migration between storages."""
