"""Dify's object storage as an OpenDAL store: from an Airflow connection, or from the Dify
deployment's own ``.env`` so that nobody configures the same bucket twice.

Dify reads ``STORAGE_TYPE`` and per-backend variables (its ``.env``); each backend maps to an
OpenDAL scheme with the options it needs. The values are secrets: they live in the returned
config's options, which are never logged or reported (``StoreConfig.describe`` shows only the
scheme and the bucket or root).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.core.forms import Field
from dify_maintenance.storage.stores import StoreConfig

# Key prefixes Dify's storage code writes to. privkeys/ holds the per-workspace RSA keys that
# decrypt every stored model credential: a migration must copy it, a cleanup must never touch it.
DIFY_PREFIXES = (
    "upload_files/",
    "image_files/",
    "tools/",
    "datasources/",
    "privkeys/",
    "keyword_files/",
    "website_files/",
)
PROTECTED_PREFIXES = ("privkeys/",)
PROTECTED_KEYS = (".dify_secret_key",)


class StorageConfigError(MaintenanceError):
    """The storage settings are incomplete or name a backend OpenDAL cannot reach."""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as docker compose reads them (comments, blank lines, quotes, ``export``)."""
    if not path.is_file():
        raise StorageConfigError(f"Dify settings file {path} does not exist")
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def _need(env: Mapping[str, str], *keys: str) -> dict[str, str]:
    missing = [k for k in keys if not env.get(k)]
    if missing:
        raise StorageConfigError(f"Dify storage settings lack {', '.join(missing)}")
    return {k: env[k] for k in keys}


def _fs_root(root: str, base_dir: Path | None) -> str:
    """Dify's fs root is relative to its api folder (``storage`` in docker, mounted from
    ``docker/volumes/app/storage`` next to the ``.env``); resolve it for this machine."""
    if os.path.isabs(root) and not root.startswith("/app/api/"):
        return root
    relative = root.removeprefix("/app/api/")
    if base_dir is not None:
        mounted = base_dir / "volumes" / "app" / relative
        return str(mounted if mounted.exists() or not (base_dir / relative).exists() else base_dir / relative)
    return os.path.abspath(relative)


def from_dify_settings(env: Mapping[str, str], base_dir: Path | None = None) -> StoreConfig:
    """The store Dify itself uses, from its settings (a parsed ``.env`` or an environment)."""
    storage_type = (env.get("STORAGE_TYPE") or "opendal").strip()
    if storage_type == "opendal":
        scheme = (env.get("OPENDAL_SCHEME") or "fs").strip()
        prefix = f"OPENDAL_{scheme.upper()}_"
        options = {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix) and v}
        if scheme == "fs":
            options["root"] = _fs_root(options.get("root", "storage"), base_dir)
        return StoreConfig(scheme, options)
    if storage_type == "local":
        return StoreConfig("fs", {"root": _fs_root(env.get("STORAGE_LOCAL_PATH") or "storage", base_dir)})
    if storage_type == "s3":
        got = _need(env, "S3_BUCKET_NAME")
        options = {"bucket": got["S3_BUCKET_NAME"], "region": env.get("S3_REGION") or "us-east-1"}
        if env.get("S3_ENDPOINT"):
            options["endpoint"] = env["S3_ENDPOINT"]
        if str(env.get("S3_USE_AWS_MANAGED_IAM", "")).lower() not in ("true", "1"):
            keys = _need(env, "S3_ACCESS_KEY", "S3_SECRET_KEY")
            options.update(access_key_id=keys["S3_ACCESS_KEY"], secret_access_key=keys["S3_SECRET_KEY"])
        if env.get("S3_ADDRESS_STYLE") == "virtual":
            options["enable_virtual_host_style"] = "true"
        return StoreConfig("s3", options)
    if storage_type == "aliyun-oss":
        got = _need(env, "ALIYUN_OSS_BUCKET_NAME", "ALIYUN_OSS_ENDPOINT", "ALIYUN_OSS_ACCESS_KEY", "ALIYUN_OSS_SECRET_KEY")
        options = {
            "bucket": got["ALIYUN_OSS_BUCKET_NAME"],
            "endpoint": got["ALIYUN_OSS_ENDPOINT"],
            "access_key_id": got["ALIYUN_OSS_ACCESS_KEY"],
            "access_key_secret": got["ALIYUN_OSS_SECRET_KEY"],
        }
        if env.get("ALIYUN_OSS_PATH"):
            options["root"] = "/" + env["ALIYUN_OSS_PATH"].strip("/")
        return StoreConfig("oss", options)
    if storage_type == "azure-blob":
        got = _need(env, "AZURE_BLOB_CONTAINER_NAME", "AZURE_BLOB_ACCOUNT_NAME", "AZURE_BLOB_ACCOUNT_KEY")
        options = {
            "container": got["AZURE_BLOB_CONTAINER_NAME"],
            "account_name": got["AZURE_BLOB_ACCOUNT_NAME"],
            "account_key": got["AZURE_BLOB_ACCOUNT_KEY"],
            "endpoint": env.get("AZURE_BLOB_ACCOUNT_URL") or f"https://{got['AZURE_BLOB_ACCOUNT_NAME']}.blob.core.windows.net",
        }
        return StoreConfig("azblob", options)
    if storage_type == "google-storage":
        got = _need(env, "GOOGLE_STORAGE_BUCKET_NAME")
        options = {"bucket": got["GOOGLE_STORAGE_BUCKET_NAME"]}
        if env.get("GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64"):
            options["credential"] = env["GOOGLE_STORAGE_SERVICE_ACCOUNT_JSON_BASE64"]
        return StoreConfig("gcs", options)
    if storage_type == "tencent-cos":
        got = _need(env, "TENCENT_COS_BUCKET_NAME", "TENCENT_COS_REGION", "TENCENT_COS_SECRET_ID", "TENCENT_COS_SECRET_KEY")
        scheme = env.get("TENCENT_COS_SCHEME") or "https"
        options = {
            "bucket": got["TENCENT_COS_BUCKET_NAME"],
            "endpoint": f"{scheme}://cos.{got['TENCENT_COS_REGION']}.myqcloud.com",
            "secret_id": got["TENCENT_COS_SECRET_ID"],
            "secret_key": got["TENCENT_COS_SECRET_KEY"],
        }
        return StoreConfig("cos", options)
    if storage_type == "huawei-obs":
        got = _need(env, "HUAWEI_OBS_BUCKET_NAME", "HUAWEI_OBS_SERVER", "HUAWEI_OBS_ACCESS_KEY", "HUAWEI_OBS_SECRET_KEY")
        options = {
            "bucket": got["HUAWEI_OBS_BUCKET_NAME"],
            "endpoint": got["HUAWEI_OBS_SERVER"],
            "access_key_id": got["HUAWEI_OBS_ACCESS_KEY"],
            "secret_access_key": got["HUAWEI_OBS_SECRET_KEY"],
        }
        return StoreConfig("obs", options)
    raise StorageConfigError(
        f"Dify STORAGE_TYPE {storage_type!r} has no OpenDAL mapping here; configure the store as an Airflow "
        "connection with an OpenDAL scheme instead"
    )


def from_dify_env_file(path: str | Path) -> StoreConfig:
    env_path = Path(path)
    return from_dify_settings(read_env_file(env_path), env_path.parent)


# How a form names Dify's storage: a connection, or the deployment's own .env (which wins).
STORAGE_FIELDS = (
    Field(
        "storage_conn_id",
        "Dify storage: Airflow connection",
        "string",
        "dify_storage",
        "Storage",
        "OpenDAL scheme and options in the extra; ignored when a Dify .env is given.",
        nullable=True,
    ),
    Field("dify_env", "Dify storage: path of Dify's .env", "string", None, "Storage", nullable=True),
)


def is_protected(key: str) -> bool:
    """Objects a cleanup may never delete, whatever the database says."""
    return key in PROTECTED_KEYS or key.startswith(PROTECTED_PREFIXES)
