"""Development tools: the synthetic Dify data generator, database fixtures and dumps, the
embedded PostgreSQL, and ``make demo``. Used by the demo, the tests and the benchmarks; never
shipped to an Airflow worker, and never imported by the engine (a test walks the imports).
"""
