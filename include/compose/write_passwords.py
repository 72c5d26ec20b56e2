"""Run by airflow-init in docker-compose.yaml: put the login from .env into the simple auth
manager's passwords file, so the documented credentials are the ones that work.

The simple auth manager reads ``{"user": "password"}`` from this file and generates a random
password only for users it does not find there. The password comes from the environment, never
from the command line, and the file is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def write_login(path: Path, username: str, password: str) -> None:
    """Add or replace ``username``'s password, keeping every other user of the file."""
    users = json.loads(path.read_text() or "{}") if path.is_file() else {}
    users[username] = password
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".passwords-")
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(users) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    write_login(target, os.environ["_AIRFLOW_WWW_USER_USERNAME"], os.environ["_AIRFLOW_WWW_USER_PASSWORD"])
    print(f"login for {os.environ['_AIRFLOW_WWW_USER_USERNAME']} written to {target}")
