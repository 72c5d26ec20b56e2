"""Child servers the tests start (moto, Airflow's api-server): stopped with SIGTERM, and killed
when they do not go (werkzeug can sit on a client's keep-alive socket after SIGTERM)."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen | None, grace: float) -> None:
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
