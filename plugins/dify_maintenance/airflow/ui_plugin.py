"""Airflow plugin: the Dify maintenance page, a read-only FastAPI app under the api-server
(``/dify-maintenance/``) with an entry in the UI's Browse menu that shows it inside Airflow.

Links are relative to ``[api] base_url`` (no leading slash), so the page works behind a reverse
proxy. Registered through the package's ``airflow.plugins`` entry point, or, in a plugins folder
layout, by ``plugins/dify_maintenance_ui.py``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from dify_maintenance.airflow.ui import URL_PREFIX, create_app


class DifyMaintenanceUiPlugin(AirflowPlugin):
    name = "dify_maintenance_ui"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Dify maintenance"}]
    external_views = [
        {
            "name": "Dify maintenance",
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "category": "browse",
            "url_route": "dify-maintenance",
        }
    ]
