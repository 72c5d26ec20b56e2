"""Run by airflow-init in docker-compose.yaml before anything starts: the secrets every Airflow
process shares must be usable, or the stack fails later in ways that hide the cause (a Fernet
key that is not one makes every encrypted connection unreadable; a short JWT secret signs task
tokens that are easy to forge). Names what is wrong; never prints a secret."""

from __future__ import annotations

import base64
import binascii
import os
import sys

MIN_JWT_SECRET_BYTES = 32


def problems(env: dict[str, str]) -> list[str]:
    found = []
    fernet = env.get("AIRFLOW__CORE__FERNET_KEY", "")
    try:
        if len(base64.urlsafe_b64decode(fernet.encode())) != 32:
            raise ValueError
    except (binascii.Error, ValueError):
        found.append(
            "AIRFLOW__CORE__FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes); generate one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
        )
    jwt = env.get("AIRFLOW__API_AUTH__JWT_SECRET", "")
    if len(jwt.encode()) < MIN_JWT_SECRET_BYTES:
        found.append(
            f"AIRFLOW__API_AUTH__JWT_SECRET has {len(jwt.encode())} bytes, fewer than {MIN_JWT_SECRET_BYTES}; generate one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'
        )
    return found


if __name__ == "__main__":
    wrong = problems(dict(os.environ))
    for line in wrong:
        print(f"airflow-init: {line}", file=sys.stderr)
    sys.exit(1 if wrong else 0)
