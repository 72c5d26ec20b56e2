"""Airflow plugin (a plugins folder layout): the Dify maintenance page. The plugin itself lives
in the package, ``dify_maintenance.airflow.ui_plugin``; an installed package registers it through
the ``airflow.plugins`` entry point instead of this file."""

from dify_maintenance.airflow.ui_plugin import DifyMaintenanceUiPlugin

__all__ = ["DifyMaintenanceUiPlugin"]
