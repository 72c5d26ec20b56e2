COPY dm_listed_keys (key, size) FROM STDIN
