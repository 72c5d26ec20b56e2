"""Airflow plugin (a plugins folder layout): the report's summary becomes the run's note. The
plugin itself lives in the package, ``dify_maintenance.airflow.notes_plugin``; an installed
package registers it through the ``airflow.plugins`` entry point instead of this file."""

from dify_maintenance.airflow.notes_plugin import DifyMaintenanceNotesPlugin

__all__ = ["DifyMaintenanceNotesPlugin"]
