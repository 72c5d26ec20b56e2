"""Helpers the tests share: the environment (support.env, imported first), the clock and scratch
databases (data), real DAG runs (dags), the engine without Airflow (purge), and the scenarios and
servers of the storage, log-cluster and page tests."""
