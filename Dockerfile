# The official Airflow image with dify-maintenance installed as a package (its DAG files are
# mounted or copied into the DAGs folder; its plugins register through the package's entry
# points), plus a PostgreSQL client new enough to pg_dump Dify's server (Dify's compose runs
# postgres:15; the PGDG client 17 dumps 9.2-17).
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates gnupg \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
 && . /etc/os-release \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
    > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-17 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

USER airflow
# The package from this checkout, resolved against Airflow's constraints for this Airflow and
# Python (what Airflow's docs ask of every image that adds packages); the Airflow the image
# has stays as it is.
COPY --chown=airflow:0 pyproject.toml README.md LICENSE /opt/dify-maintenance/
COPY --chown=airflow:0 plugins/dify_maintenance /opt/dify-maintenance/plugins/dify_maintenance
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/dify-maintenance \
    --constraint "https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-3.11.txt"
