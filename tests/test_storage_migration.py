"""Storage migration through OpenDAL: fs -> fs, fs -> s3, s3 -> fs (moto_server on 127.0.0.1),
an outage mid-run and a rerun that copies nothing twice, a corrupted target caught."""

from __future__ import annotations

import hashlib

import pytest
from support.storage import MotoServer, free_port, write_dify_tree

from dify_maintenance.files import store_migration as migration
from dify_maintenance.storage import dify_storage
from dify_maintenance.storage.stores import StoreConfig


def fs(path) -> StoreConfig:
    return StoreConfig("fs", {"root": str(path)})


def read_all(store: StoreConfig, keys) -> dict[str, bytes]:
    op = store.operator()
    return {k: bytes(op.read(store.prefix + k)) for k in keys}


def migrate(source, target, shards=3, **kwargs) -> list[dict]:
    inv = migration.inventory(source, target, list(dify_storage.DIFY_PREFIXES), shards)
    return [migration.copy_shard(source, target, inv["migration_id"], n, **kwargs) for n in inv["shards"]]


@pytest.fixture
def moto():
    server = MotoServer().start()
    yield server
    server.stop()


def test_fs_to_fs_copies_everything_including_private_keys(tmp_path):
    source, target = fs(tmp_path / "src"), fs(tmp_path / "dst")
    written = write_dify_tree(source)
    results = migrate(source, target)
    assert sum(r["copied"] for r in results) == len(written)
    assert not any(r["failed"] for r in results)
    assert read_all(target, written) == written
    assert any(k.startswith("privkeys/") for k in written)
    again = migrate(source, target)
    assert sum(r["copied"] for r in again) == 0 and sum(r["skipped"] for r in again) == len(written)


def test_fs_to_s3_and_back(tmp_path, moto):
    moto.create_bucket("dify-target")
    source, s3 = fs(tmp_path / "src"), moto.store("dify-target")
    written = write_dify_tree(source)
    results = migrate(source, s3, concurrency=4)
    assert sum(r["copied"] for r in results) == len(written) and not any(r["failed"] for r in results)
    assert read_all(s3, written) == written
    back = fs(tmp_path / "back")
    results = migrate(s3, back)
    assert sum(r["copied"] for r in results) == len(written)
    assert read_all(back, written) == written


def test_target_outage_then_rerun_copies_only_what_is_missing(tmp_path, moto):
    """The target becomes unreachable between shards (connections refused, as when its server is
    stopped); the shard fails loudly, and the rerun copies exactly what is not there yet."""
    moto.create_bucket("dify-target")
    source, s3 = fs(tmp_path / "src"), moto.store("dify-target")
    unreachable = StoreConfig("s3", {**s3.options, "endpoint": f"http://127.0.0.1:{free_port()}"})
    written = write_dify_tree(source)
    inv = migration.inventory(source, s3, list(dify_storage.DIFY_PREFIXES), 3)
    first = migration.copy_shard(source, s3, inv["migration_id"], 0)
    assert first["copied"] > 0 and not first["failed"]
    with pytest.raises(migration.MigrationFailed, match="reachable"):
        migration.copy_shard(source, unreachable, inv["migration_id"], 1)
    present = {key for key, _ in migration.list_objects(s3, "")} & set(written)
    assert len(present) == first["copied"]
    results = [migration.copy_shard(source, s3, inv["migration_id"], n) for n in inv["shards"]]
    assert sum(r["copied"] for r in results) == len(written) - len(present)  # verified objects are not copied again
    assert sum(r["skipped"] for r in results) == first["copied"]
    assert read_all(s3, written) == written


def test_server_stopped_mid_shard_fails_the_objects_not_the_run_silently(tmp_path, moto):
    """moto_server stopped while a shard copies: every object it could not write is reported failed."""
    moto.create_bucket("dify-target")
    source, s3 = fs(tmp_path / "src"), moto.store("dify-target")
    write_dify_tree(source)
    inv = migration.inventory(source, s3, list(dify_storage.DIFY_PREFIXES), 1)
    moto.stop()
    with pytest.raises(migration.MigrationFailed):
        migration.copy_shard(source, s3, inv["migration_id"], 0)


def test_rerun_after_partial_copy_skips_verified_objects(tmp_path):
    source, target = fs(tmp_path / "src"), fs(tmp_path / "dst")
    written = write_dify_tree(source)
    inv = migration.inventory(source, target, list(dify_storage.DIFY_PREFIXES), 4)
    done = migration.copy_shard(source, target, inv["migration_id"], 2)
    results = migrate(source, target, shards=4)
    assert sum(r["copied"] for r in results) == len(written) - done["copied"]


def test_corrupted_target_object_is_caught_and_replaced(tmp_path):
    source, target = fs(tmp_path / "src"), fs(tmp_path / "dst")
    written = write_dify_tree(source)
    migrate(source, target)
    victim = next(k for k, v in written.items() if len(v) > 1000)
    damaged = bytearray(written[victim])
    damaged[10] ^= 0xFF  # same size: only a checksum can tell
    (tmp_path / "dst" / victim).write_bytes(bytes(damaged))
    results = migrate(source, target, trust_manifest=False)
    assert [k for r in results for k in r["repaired"]] == [victim]
    assert sum(r["copied"] for r in results) == 1 and sum(r["verified"] for r in results) == len(written) - 1
    assert read_all(target, [victim])[victim] == written[victim]


def test_dify_env_file_maps_to_opendal(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "# Dify docker .env\nSTORAGE_TYPE=s3\nS3_BUCKET_NAME=dify\nS3_ENDPOINT='http://minio:9000'\n"
        'S3_ACCESS_KEY=AKIA123\nS3_SECRET_KEY="very-secret"\nS3_REGION=eu-west-1\nS3_ADDRESS_STYLE=path\n'
    )
    config = dify_storage.from_dify_env_file(env)
    assert config.scheme == "s3"
    assert config.options == {
        "bucket": "dify",
        "region": "eu-west-1",
        "endpoint": "http://minio:9000",
        "access_key_id": "AKIA123",
        "secret_access_key": "very-secret",
    }
    assert "very-secret" not in repr(config) and "very-secret" not in config.describe()
    (tmp_path / "volumes" / "app" / "storage").mkdir(parents=True)
    env.write_text("STORAGE_TYPE=opendal\nOPENDAL_SCHEME=fs\nOPENDAL_FS_ROOT=storage\n")
    local = dify_storage.from_dify_env_file(env)
    assert local.scheme == "fs" and local.options["root"] == str(tmp_path / "volumes" / "app" / "storage")
    env.write_text("STORAGE_TYPE=aliyun-oss\nALIYUN_OSS_BUCKET_NAME=b\n")
    with pytest.raises(dify_storage.StorageConfigError, match="ALIYUN_OSS_ENDPOINT"):
        dify_storage.from_dify_env_file(env)
    env.write_text("STORAGE_TYPE=supabase\n")
    with pytest.raises(dify_storage.StorageConfigError, match="no OpenDAL mapping"):
        dify_storage.from_dify_env_file(env)


@pytest.mark.parametrize("schema", ["fixture-1.14", "dify-1.16.1"])
def test_migration_dag_fs_to_s3_with_the_database_check(schema, databases, run_dag, tmp_path, moto, monkeypatch):
    """The DAG end to end: a generated Dify with its uploads on local disk, three of them lost;
    a dry run copies nothing; the real run copies and verifies everything, names the lost files,
    and records the new storage type."""
    import json

    import psycopg
    from airflow.utils.state import DagRunState
    from support.data import ANCHOR
    from support.env import SHARED_SCHEMAS

    from devtools import fixtures, generator
    from dify_maintenance.core.db import url_connector

    url = databases.fresh(empty=True)
    if schema.startswith("fixture"):
        fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    elif (SHARED_SCHEMAS / f"{schema}.sql").is_file():
        fixtures.load_dump(url, SHARED_SCHEMAS / f"{schema}.sql")  # the newest release known, with its new tables
    else:
        pytest.skip(f"real schema dumps not in {SHARED_SCHEMAS}")
    source = fs(tmp_path / "dify-storage")
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=200, tenants=2), storage=source)
    extra = write_dify_tree(source, per_prefix=3)
    with psycopg.connect(url) as conn:
        keys = [r[0] for r in conn.execute("select key from upload_files order by key")]
    lost, altered = keys[:3], keys[3:5]
    for key in lost:
        (tmp_path / "dify-storage" / key).unlink()
    with psycopg.connect(url) as conn:  # Dify records sha3-256 at upload; two objects changed since, same size
        for key in keys[3:]:
            digest = hashlib.sha3_256((tmp_path / "dify-storage" / key).read_bytes()).hexdigest()
            conn.execute("update upload_files set hash = %s where key = %s", (digest, key))
    for key in altered:
        path = tmp_path / "dify-storage" / key
        path.write_bytes(bytes(b ^ 0xFF for b in path.read_bytes()))
    env = tmp_path / ".env"
    env.write_text(f"STORAGE_TYPE=opendal\nOPENDAL_SCHEME=fs\nOPENDAL_FS_ROOT={tmp_path / 'dify-storage'}\n")
    moto.create_bucket("dify-new")
    monkeypatch.setenv(
        "AIRFLOW_CONN_DIFY_S3",
        json.dumps(
            {
                "conn_type": "generic",
                "login": "test",
                "password": "test",
                "extra": {
                    k: v for k, v in moto.store("dify-new").options.items() if k not in ("access_key_id", "secret_access_key")
                }
                | {"scheme": "s3"},
            }
        ),
    )
    conf = {"source_dify_env": str(env), "target_conn_id": "dify_s3", "shards": 3}
    dr, xcoms, states = run_dag("dify_storage_migration", url, conf=conf)
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["dry_run"] is True and xcoms["report"]["copied"] == 0
    assert list(migration.list_objects(moto.store("dify-new"), "upload_files/")) == []
    dr, xcoms, states = run_dag("dify_storage_migration", url, conf={**conf, "dry_run": False, "set_storage_type": "s3"})
    assert dr.state == DagRunState.SUCCESS, states
    expected = (len(keys) - len(lost)) + len(extra)
    assert xcoms["report"]["copied"] == expected
    assert sorted(m["key"] for m in xcoms["check_database"]["missing"]) == sorted(lost)
    assert xcoms["report"]["hash_mismatch"] == len(altered)
    assert sorted(xcoms["report"]["hash_mismatch_keys"]) == sorted(altered)
    copied = dict(migration.list_objects(moto.store("dify-new"), "upload_files/"))
    assert set(keys) - set(lost) <= set(copied)
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from upload_files where storage_type <> 's3'").fetchone()[0] == 0
