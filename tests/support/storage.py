"""Object-store helpers for tests: a moto_server started on 127.0.0.1, and a file tree of Dify keys."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dify_maintenance.storage.stores import StoreConfig
from support import processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """moto's standalone S3 server in a child process; stop() simulates an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        exe = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("moto_server did not start")

    def stop(self) -> None:
        processes.stop(self.proc, grace=5)  # an outage is an outage: killed if SIGTERM is not enough
        self.proc = None

    def store(self, bucket: str) -> StoreConfig:
        config = StoreConfig(
            "s3",
            {
                "bucket": bucket,
                "endpoint": self.endpoint,
                "region": "us-east-1",
                "access_key_id": "test",
                "secret_access_key": "test",
                "disable_config_load": "true",
                "disable_ec2_metadata": "true",
            },
        )
        return config

    def create_bucket(self, bucket: str) -> None:
        import boto3  # moto[server] brings boto3

        client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        client.create_bucket(Bucket=bucket)


def write_dify_tree(store: StoreConfig, tenants: int = 2, per_prefix: int = 15, seed: int = 7) -> dict[str, bytes]:
    """Objects under Dify's prefixes with mixed sizes (a few above the copy chunk size)."""
    rng = random.Random(seed)
    op = store.operator()
    written: dict[str, bytes] = {}
    for t in range(tenants):
        tenant = f"00000000-0000-4000-8000-{t:012d}"
        for prefix, ext in (("upload_files", "pdf"), ("image_files", "png"), ("tools", "json")):
            for i in range(per_prefix):
                size = rng.choice([0, 1, 100, 4096, 70_000, 300_000])
                key = f"{prefix}/{tenant}/{rng.getrandbits(64):016x}-{i}.{ext}"
                data = os.urandom(size)
                op.write(store.prefix + key, data)
                written[key] = data
        key = f"privkeys/{tenant}/private.pem"
        data = b"-----BEGIN RSA PRIVATE KEY-----\n" + os.urandom(64) + b"\n-----END RSA PRIVATE KEY-----\n"
        op.write(store.prefix + key, data)
        written[key] = data
    big = "upload_files/big/large-upload.bin"
    written[big] = os.urandom(20 * 1024 * 1024)
    op.write(store.prefix + big, written[big])
    return written
