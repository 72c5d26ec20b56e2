"""The maintenance page's web app, mounted under the api-server by the plugin
``plugins/dify_maintenance_ui.py`` and shown in the UI's navigation.

Plugin apps inherit no authentication in Airflow 3: every route here depends on Airflow's
auth manager (``requires_access_view(AccessView.PLUGINS)``), so a caller who is not logged in
gets 401 and any logged-in user, read-only viewers included, may look. There are only GET
routes: nothing can be changed from this page (the stop switch is shown, with how to flip it).

The api-server is not a task: Airflow's facts (next runs, paused, the stop switch, the policy
Variable and the ``dify_db`` connection) are read through its own models and session, the same
metadata the REST API serves; the Dify database is read through the connection the DAGs use.
"""

from __future__ import annotations

import logging

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_view
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from dify_maintenance.core import settings as settings_mod
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.dashboard import model as model_mod
from dify_maintenance.dashboard import page

log = logging.getLogger(__name__)

URL_PREFIX = "/dify-maintenance"


def _airflow_facts(session) -> model_mod.AirflowFacts:
    from airflow.configuration import conf
    from airflow.models.dag import DagModel
    from airflow.models.variable import Variable
    from sqlalchemy import select

    dags: dict[str, dict] = {}
    for dag in session.scalars(select(DagModel).where(DagModel.dag_id.in_(model_mod.MAINTENANCE_DAGS))):
        dags[dag.dag_id] = {
            "paused": bool(dag.is_paused),
            "next_run": dag.next_dagrun_create_after.isoformat() if dag.next_dagrun_create_after else None,
        }
    base = conf.get("api", "base_url", fallback="") or "/"
    return model_mod.AirflowFacts(
        dags=dags,
        stop_switch=Variable.get_variable_from_secrets(settings_mod.STOP_VARIABLE) or "",
        stop_variable=settings_mod.STOP_VARIABLE,
        base_url=base if base.endswith("/") else base + "/",
    )


def _dify_database():
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable

    from dify_maintenance.airflow.connections import target_of

    policy = settings_mod.resolve(Variable.get_variable_from_secrets(settings_mod.VARIABLE))
    try:
        conn = Connection.get_connection_from_secrets(policy.conn_id)
    except Exception as exc:  # AirflowNotFoundException; keep the message for the page
        raise MaintenanceError(f"Airflow connection {policy.conn_id!r} (the Dify database) is not defined") from exc
    return target_of(conn)


def _model(session) -> dict:
    return model_mod.collect(_dify_database(), _airflow_facts(session))


def create_app() -> FastAPI:
    app = FastAPI(
        title="Dify maintenance",
        description="Read-only: what the maintenance runs did, how Dify's database grows, what is deferred.",
        dependencies=[Depends(requires_access_view(AccessView.PLUGINS))],
    )

    @app.get("/", response_class=HTMLResponse)
    def maintenance_page(session: SessionDep) -> HTMLResponse:
        try:
            return HTMLResponse(page.render(_model(session)))
        except MaintenanceError as exc:
            return HTMLResponse(page.unavailable(str(exc)), status_code=503)

    @app.get("/api/summary")
    def summary(session: SessionDep) -> JSONResponse:
        """Every number the page shows, as JSON."""
        try:
            return JSONResponse(_model(session))
        except MaintenanceError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    return app
