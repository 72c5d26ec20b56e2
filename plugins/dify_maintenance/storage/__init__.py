"""Object storage shared by every room that writes or reads files: the OpenDAL store client,
Dify's own storage settings read as a store, and the archive (zstd parts with a manifest) that
retention, orphaned files and cleanup-pg write before anything is deleted."""
