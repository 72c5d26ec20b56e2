COPY dm_listed_keys (key, size, modified) FROM STDIN
