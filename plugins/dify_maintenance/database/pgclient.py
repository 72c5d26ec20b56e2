"""PostgreSQL client programs (``pg_dump``, ``pg_restore``, ``pg_repack``): finding one that fits
the server, and running it with credentials in the environment only.

A ``pg_dump`` older than the server refuses to dump it ("server version mismatch"), so the
search takes the newest candidate whose major version is at least the server's: ``$PATH``, the
Debian/RPM install folders, then the client bundled with ``pgserver`` as a fallback.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import subprocess
from dataclasses import dataclass

from dify_maintenance.core.db import DbTarget
from dify_maintenance.core.errors import MaintenanceError

log = logging.getLogger(__name__)

# Operators can point at a folder holding the right clients (for example a postgresql-client-17 install).
BIN_DIR_ENV = "DIFY_MAINT_PG_BIN"
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_SEARCH_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql@*/bin")


class ClientNotFound(MaintenanceError):
    """No client program of a fitting version is installed where we look."""


class ClientFailed(MaintenanceError):
    """A client program exited with an error; its stderr (never the environment) is in the message."""


@dataclass(frozen=True)
class Client:
    program: str
    path: str
    major: int
    version: str

    def describe(self) -> str:
        return f"{self.program} {self.version} ({self.path})"


def candidate_dirs() -> list[str]:
    """Where to look: ``$DIFY_MAINT_PG_BIN`` (one folder or several, like PATH), PATH, then the
    Debian/Ubuntu client folders. The newest fitting client wins, wherever it was found."""
    dirs = [p for p in os.environ.get(BIN_DIR_ENV, "").split(os.pathsep) if p]
    dirs.extend(p for p in os.environ.get("PATH", "").split(os.pathsep) if p)
    for pattern in _SEARCH_GLOBS:
        dirs.extend(sorted(glob.glob(pattern)))
    return list(dict.fromkeys(dirs))


def probe(path: str, program: str) -> Client | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return None
    match = _VERSION.search(out.stdout)
    if out.returncode != 0 or not match:
        return None
    return Client(program, path, int(match.group(1)), f"{match.group(1)}.{match.group(2) or 0}")


def find(program: str, server_major: int) -> Client:
    """The newest ``program`` with major version >= the server's; a clear error when none fits."""
    found: list[Client] = []
    for directory in candidate_dirs():
        path = os.path.join(directory, program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            client = probe(path, program)
            if client and all(c.path != client.path for c in found):
                found.append(client)
    fitting = [c for c in found if c.major >= server_major]
    if not fitting:
        seen = ", ".join(c.describe() for c in found) or "none"
        raise ClientNotFound(
            f"no {program} of major version >= {server_major} (the server's) was found; seen: {seen}. "
            f"Install postgresql-client-{server_major} (or newer) on the worker or set {BIN_DIR_ENV} to its bin folder"
        )
    best = max(fitting, key=lambda c: (c.major, c.version))
    log.info("using %s for a PostgreSQL %d server", best.describe(), server_major)
    return best


def run(client: Client, args: list[str], target: DbTarget | None, *, timeout: float | None = None) -> str:
    """Run a client with libpq settings in its environment; return stdout, raise with stderr.

    argv holds only options and object names, never a password or a connection string.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if target is not None:
        env.update(target.libpq_env())
    log.info("running %s %s", client.program, " ".join(args))
    try:
        out = subprocess.run([client.path, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ClientFailed(f"{client.program} did not finish within {timeout} s") from exc
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-8:])
        raise ClientFailed(f"{client.program} exited with {out.returncode}: {tail}")
    return out.stdout
