"""The only room that imports Airflow: the tasks the DAG files compose, their trigger forms as
Params, the alerts, and reading connections. Everything else runs without Airflow."""
