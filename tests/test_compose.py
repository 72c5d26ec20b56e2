"""docker-compose.yaml cannot run here (no Docker engine): its structure is checked, and it is
rendered with the values of .env.example the way ``docker compose config`` interpolates them,
then every service's environment and mounts are checked: who gets which secret, where the
login comes from, which network reaches Dify."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-init")
# What a person fills into .env.example's empty required fields before the first start.
FILLED_IN = {
    "AIRFLOW__CORE__FERNET_KEY": "Q2hhbmdlLW1lLXRvLWEtcmVhbC1rZXktMzItYnl0ZXM=",
    "AIRFLOW__API_AUTH__JWT_SECRET": "s" * 43,
}
TASK_SECRETS = (
    "AIRFLOW_CONN_DIFY_DB",
    "AIRFLOW_CONN_DIFY_ARCHIVE",
    "AIRFLOW_CONN_DIFY_STORAGE",
    "AIRFLOW_CONN_DIFY_BACKUP_STORE",
)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def env_example() -> dict[str, str]:
    """The variables .env.example sets (commented-out examples are not set)."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line):
            values[match.group(1)] = match.group(2)
    return values


class MissingRequired(Exception):
    pass


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ${V}, ${V:-default}, ${V-default}, ${V:?error}, ${V?error}, $V, $$."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3) or ""
        value = env.get(name)
        unset_or_empty = value is None or (value == "" and op and op.startswith(":"))
        if op in (":-", "-") and unset_or_empty:
            return arg
        if op in (":?", "?") and unset_or_empty:
            raise MissingRequired(f"{name}: {arg}")
        return value or ""

    return _VAR.sub(one, text)


def rendered(env: dict[str, str]) -> dict:
    """The compose file as ``docker compose config`` sees it: YAML first (anchors merged), then
    every string value interpolated."""

    def walk(node):
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return interpolate(node, env) if isinstance(node, str) else node

    return walk(yaml.safe_load((ROOT / "docker-compose.yaml").read_text()))


@pytest.fixture(scope="module")
def stack() -> dict:
    return rendered({**env_example(), **FILLED_IN})


def test_services_and_executor():
    doc = compose()
    assert set(doc["services"]) == {"postgres", "airflow-cli", *AIRFLOW_SERVICES}
    commands = {name: doc["services"][name].get("command") for name in AIRFLOW_SERVICES[:4]}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    assert doc["services"]["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert all("env_file" not in service for service in doc["services"].values())  # nothing gets all of .env


def test_every_airflow_service_shares_the_core_settings(stack):
    first = stack["services"]["airflow-apiserver"]["environment"]
    for name in AIRFLOW_SERVICES:
        env = stack["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        # identical in every process, or task tokens and encrypted connections break
        for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
            assert env[key] == first[key] and env[key], key
        mounts = {v.split(":")[1] for v in stack["services"][name]["volumes"]}
        assert {"/opt/airflow/include", "/opt/airflow/config"} <= mounts
        if name != "airflow-init":
            assert "/opt/airflow/dags" in mounts
        # the engine is installed in the image: a plugins folder with it too would register the
        # plugins twice ("already registered" import errors)
        assert "/opt/airflow/plugins" not in mounts
        assert stack["services"][name]["build"] == "."


def test_each_service_gets_only_the_secrets_it_needs(stack):
    services = stack["services"]
    holders = {key: sorted(n for n in AIRFLOW_SERVICES if key in services[n]["environment"]) for key in TASK_SECRETS}
    # the tasks run in the scheduler; the maintenance page in the api-server reads the Dify database
    assert holders == {
        **dict.fromkeys(TASK_SECRETS, ["airflow-scheduler"]),
        "AIRFLOW_CONN_DIFY_DB": ["airflow-apiserver", "airflow-scheduler"],
    }
    assert services["airflow-cli"]["profiles"] == ["cli"]  # started only by docker compose run
    assert services["airflow-scheduler"]["environment"]["AIRFLOW_CONN_DIFY_DB"] == env_example()["AIRFLOW_CONN_DIFY_DB"]
    alerts = sorted(n for n in AIRFLOW_SERVICES if "AIRFLOW_CONN_DIFY_MAINTENANCE_ALERTS" in services[n]["environment"])
    assert alerts == ["airflow-dag-processor", "airflow-scheduler", "airflow-triggerer"]  # callbacks run there
    password = sorted(n for n, s in services.items() if "_AIRFLOW_WWW_USER_PASSWORD" in (s.get("environment") or {}))
    assert password == ["airflow-init"]
    assert "AIRFLOW_METADATA_PASSWORD" not in json.dumps(services)  # only ever interpolated into the URL
    # archives and backups land on named volumes, where the store defaults point
    scheduler = services["airflow-scheduler"]
    mounts = {v.split(":")[1] for v in scheduler["volumes"]}
    assert {"/opt/airflow/archive", "/opt/airflow/backups", "/opt/dify"} <= mounts
    assert scheduler["environment"]["DIFY_MAINT_ARCHIVE_ROOT"] == "/opt/airflow/archive"
    assert services["airflow-dag-processor"]["environment"]["DIFY_MAINT_BACKUP_SCHEDULE"] == ""


def test_the_scheduler_and_the_page_reach_dify_on_its_compose_network(stack):
    assert stack["networks"]["dify"] == {"external": True, "name": env_example()["DIFY_NETWORK"]}
    for name in ("airflow-scheduler", "airflow-apiserver"):
        assert set(stack["services"][name]["networks"]) == {"default", "dify"}, name


def test_no_airflow_variable_comes_from_the_environment(stack):
    """A Variable in the environment wins over the UI's, even when empty: compose sets none."""
    for name, service in stack["services"].items():
        assert not [k for k in (service.get("environment") or {}) if k.startswith("AIRFLOW_VAR_")], name


def test_the_ui_is_published_on_the_loopback_and_the_scheduler_waits_for_the_api_server(stack):
    assert stack["services"]["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
    waits = stack["services"]["airflow-scheduler"]["depends_on"]
    assert waits["airflow-apiserver"] == {"condition": "service_healthy"} and "airflow-init" in waits


def test_airflow_init_refuses_unusable_secrets(tmp_path):
    """A Fernet key that is not one, or a JWT secret under 32 bytes, stops airflow-init with the
    variable named (and never the secret printed)."""
    script = ROOT / "include" / "compose" / "check_secrets.py"
    good = {"PATH": os.environ["PATH"], **FILLED_IN}
    assert subprocess.run([sys.executable, script], env=good, capture_output=True).returncode == 0
    bad = {**good, "AIRFLOW__CORE__FERNET_KEY": "not-a-key", "AIRFLOW__API_AUTH__JWT_SECRET": "short-secret"}
    out = subprocess.run([sys.executable, script], env=bad, capture_output=True, text=True)
    assert out.returncode == 1
    assert "AIRFLOW__CORE__FERNET_KEY is not a Fernet key" in out.stderr and "JWT_SECRET has 12 bytes" in out.stderr
    assert "short-secret" not in out.stderr and "not-a-key" not in out.stderr
    init = " ".join(compose()["services"]["airflow-init"]["command"])
    assert init.index("check_secrets.py") < init.index("write_passwords.py")


def test_the_stacks_own_secrets_are_never_committed():
    ignored = subprocess.run(
        ["git", "check-ignore", ".env", "config/simple_auth_manager_passwords.json", "logs/x.log"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == [".env", "config/simple_auth_manager_passwords.json", "logs/x.log"]


def test_the_fernet_key_and_the_login_are_required():
    example = env_example()
    assert example["AIRFLOW__CORE__FERNET_KEY"] == ""  # never a shared default
    with pytest.raises(MissingRequired, match="AIRFLOW__CORE__FERNET_KEY"):
        rendered({**example, "AIRFLOW__API_AUTH__JWT_SECRET": "x"})
    with pytest.raises(MissingRequired, match="_AIRFLOW_WWW_USER_PASSWORD"):
        rendered({**example, **FILLED_IN, "_AIRFLOW_WWW_USER_PASSWORD": ""})


def test_the_documented_login_is_the_one_that_works(tmp_path, stack):
    """airflow-init writes .env's login into the passwords file on ./config; the api-server's
    simple auth manager then accepts exactly that user and password."""
    init = stack["services"]["airflow-init"]
    api = stack["services"]["airflow-apiserver"]["environment"]
    config = tmp_path / "config"
    passwords = config / Path(api["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).name
    assert any(
        "write_passwords.py" in line and api["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] in line
        for line in init["command"][1].splitlines()
    )
    user, password = init["environment"]["_AIRFLOW_WWW_USER_USERNAME"], init["environment"]["_AIRFLOW_WWW_USER_PASSWORD"]
    env = {**os.environ, "_AIRFLOW_WWW_USER_USERNAME": user, "_AIRFLOW_WWW_USER_PASSWORD": password}
    subprocess.run([sys.executable, ROOT / "include" / "compose" / "write_passwords.py", passwords], env=env, check=True)
    assert oct(passwords.stat().st_mode)[-3:] == "600"
    check = """
import sys
from airflow.api_fastapi.app import init_auth_manager
from airflow.api_fastapi.auth.managers.simple.datamodels.login import LoginBody
from airflow.api_fastapi.auth.managers.simple.services.login import SimpleAuthManagerLogin
init_auth_manager()  # what the api-server does at start: it keeps a password it finds in the file
user = sys.argv[1]
for password in sys.argv[2:]:
    try:
        SimpleAuthManagerLogin.create_token(body=LoginBody(username=user, password=password))
        print("accepted")
    except Exception as exc:
        print("refused", type(exc).__name__)
"""
    run_env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__AUTH_MANAGER": api["AIRFLOW__CORE__AUTH_MANAGER"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": api["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": api["AIRFLOW__API_AUTH__JWT_SECRET"],
    }
    out = subprocess.run(
        [sys.executable, "-c", check, user, password, "wrong"], env=run_env, capture_output=True, text=True, check=True
    )
    verdicts = [line for line in out.stdout.splitlines() if line == "accepted" or line.startswith("refused")]
    assert verdicts == ["accepted", "refused HTTPException"], out.stdout[-2000:] + out.stderr[-2000:]
    assert json.loads(passwords.read_text()) == {user: password}


def test_dockerfile_installs_the_package_under_airflows_constraints_and_a_new_enough_pg_client():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.\d+\.\d", text, re.M)
    install = re.search(r"^RUN pip install (.+?)(?<!\\)$", text, re.M | re.S).group(1)
    assert '"apache-airflow==${AIRFLOW_VERSION}" /opt/dify-maintenance' in install
    assert "constraints-${AIRFLOW_VERSION}/constraints-3.11.txt" in install
    copied = re.findall(r"^COPY \S+ (.+) (\S+)$", text, re.M)
    assert ("plugins/dify_maintenance", "/opt/dify-maintenance/plugins/dify_maintenance") in copied
    assert ("pyproject.toml README.md LICENSE", "/opt/dify-maintenance/") in copied
    major = int(re.search(r"postgresql-client-(\d+)", text).group(1))
    assert major >= 15  # Dify's compose runs postgres:15; pg_dump must be at least the server's major


def test_the_image_gets_no_test_only_package():
    import tomllib

    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for package in ("pgserver", "pytest", "moto", "ruff", "osmem-server", "playwright"):
        assert not [r for r in runtime if r.startswith(package)], package


def test_env_example_documents_every_variable_compose_reads():
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yaml").read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert used - {"HOSTNAME"} <= documented
    assert "AIRFLOW_CONN_DIFY_DB" in documented


DOCKER_COMPOSE = shutil.which("docker-compose")


@pytest.mark.skipif(DOCKER_COMPOSE is None, reason="Debian's docker-compose is not installed (.ci/run installs it)")
def test_docker_compose_itself_renders_what_these_checks_read(tmp_path, stack):
    """``docker-compose config`` (no daemon needed) with .env.example filled in: the services,
    the published port, each service's environment keys and networks match this file's renderer."""
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(f"{k}={v}" for k, v in {**env_example(), **FILLED_IN}.items()) + "\n")
    out = subprocess.run(
        [DOCKER_COMPOSE, "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yaml"), "--profile", "cli", "config"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    real = yaml.safe_load(out.stdout)
    assert set(real["services"]) == set(stack["services"])
    assert [str(p).removesuffix("/tcp") for p in real["services"]["airflow-apiserver"]["ports"]] == ["127.0.0.1:8080:8080"]
    for name, service in stack["services"].items():
        assert set(real["services"][name].get("environment") or {}) == set(service.get("environment") or {}), name
        assert set(real["services"][name].get("networks") or {"default"}) == set(service.get("networks") or ["default"]), name
