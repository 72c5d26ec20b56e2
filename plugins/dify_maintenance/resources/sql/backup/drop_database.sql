-- Drop a scratch database of ours (restore check, schema snapshot of a dump file).
DROP DATABASE IF EXISTS {{ database|ident }} WITH (FORCE)
