"""The core every room builds on: database connections and SQL rendering, errors, the table graph
(catalog), the live schema and Dify version, the retention policy, our own bookkeeping (state)
and the rules for a run's configuration (forms). Nothing here imports Airflow."""
