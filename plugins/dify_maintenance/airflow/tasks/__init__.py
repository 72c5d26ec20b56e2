"""Airflow tasks, defined once here and composed by the DAG files in ``dags/``."""
