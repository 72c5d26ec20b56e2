"""Airflow's own plugin loading over our plugins/ folder, as the api-server and scheduler run it:
the engine package must not be imported again under bare module names (its forms module once
became ``sys.modules["requests"]`` there, and task-log fetching got our module instead of the
library)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support.env import ROOT

PLUGINS = ROOT / "plugins"

PROBE = """
import json, sys
from airflow import plugins_manager
plugins_manager.ensure_plugins_loaded()
import requests
plugins = {name: getattr(mod, "__file__", None) for name, mod in list(sys.modules.items())}
print(json.dumps({
    "requests": requests.__file__,
    "has_session": hasattr(requests, "Session"),
    "from_plugins": {n: f for n, f in plugins.items() if f and f.startswith(sys.argv[1])},
    "loaded_plugins": sorted(p.name for p in plugins_manager._get_plugins()[0]),
    "import_errors": plugins_manager.get_import_errors(),
}))
"""


def load_plugins_like_airflow() -> dict:
    """Run Airflow's plugin manager in a fresh interpreter (its results are cached per process)."""
    env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS), "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False"}
    env.pop("PYTHONPATH", None)  # nothing but Airflow itself puts plugins/ on sys.path
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(PLUGINS)], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# The files that are Airflow plugins, loaded by their bare names on purpose.
PLUGIN_FILES = {
    "dify_maintenance_notes": PLUGINS / "dify_maintenance_notes.py",
    "dify_maintenance_ui": PLUGINS / "dify_maintenance_ui.py",
}


def test_plugin_loading_leaves_the_requests_library_and_the_engine_package_alone():
    seen = load_plugins_like_airflow()
    assert "site-packages" in seen["requests"] and seen["has_session"], seen["requests"]
    assert seen["import_errors"] == {}
    # the engine package itself, imported from sys.path by the page's plugin, is not a bare import
    bare = {
        name: path
        for name, path in seen["from_plugins"].items()
        if name != "dify_maintenance" and not name.startswith("dify_maintenance.")
    }
    assert bare == {name: str(path) for name, path in PLUGIN_FILES.items()}, (
        f"modules imported under bare names by the plugin loader: {sorted(bare)}"
    )
    assert {"dify_maintenance_notes", "dify_maintenance_ui"} <= set(seen["loaded_plugins"])


def test_no_engine_module_is_named_like_an_installed_library():
    """Even imported the right way, a module named like a library invites confusion."""
    import importlib.util

    names = {p.stem for p in (PLUGINS / "dify_maintenance").rglob("*.py") if p.stem != "__init__"}
    shadowing = sorted(
        name for name in names if (spec := importlib.util.find_spec(name)) and spec.origin and "site-packages" in spec.origin
    )
    assert shadowing == []
