"""Storage benchmark: our sharded, verified migration against a sequential one-object-at-a-time
copy over the same OpenDAL operators, into S3 (moto_server) behind an injected network latency.

Usage: PYTHONPATH=plugins:. .venv/bin/python bench/storage.py [--objects 20000] [--latency-ms 10]
       [--baseline-objects 2000] [--shards 4] [--concurrency 16]

The machine has no netem qdisc (``tc ... netem`` fails: kernel module absent), so latency is
injected by a TCP relay in front of moto_server that holds every chunk for ``--latency-ms`` in
each direction (a fixed delay, no bandwidth cap). The sequential baseline copies the first
``--baseline-objects`` objects (its rate is what is compared: at 10 ms it would take minutes for
all of them); ours migrates every object, verifying each by size and sha256 read back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dify_maintenance.files import store_migration as migration
from dify_maintenance.storage.stores import StoreConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LatencyRelay:
    """127.0.0.1:port -> upstream, every chunk delivered ``delay`` seconds after it arrived.

    Runs in its own process. As a thread of the benchmark's process it stalled the parallel copy
    (no progress in 15 minutes); why was not found: OpenDAL's blocking calls do release the GIL
    (16 threads of ``stat`` through the relay ran 12x one thread's rate)."""

    def __init__(self, upstream: int, delay: float) -> None:
        self.upstream, self.delay, self.port = upstream, delay, free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = [sys.executable, __file__, "--relay", str(self.upstream), str(self.port), str(self.delay)]
        self.proc = subprocess.Popen(args)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("latency relay did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    async def serve(self) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        async with server:
            await server.serve_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                arrived, data = await queue.get()
                if data is None:
                    writer.close()
                    return
                wait = arrived + self.delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic(), data))
        finally:
            queue.put_nowait((time.monotonic(), None))
            await sender


def start_moto() -> tuple[subprocess.Popen, int]:
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("moto_server did not start")


def s3_store(port: int, bucket: str) -> StoreConfig:
    import boto3

    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    ).create_bucket(Bucket=bucket)
    return StoreConfig(
        "s3",
        {
            "bucket": bucket,
            "endpoint": endpoint,
            "region": "us-east-1",
            "access_key_id": "x",
            "secret_access_key": "x",
            "disable_config_load": "true",
            "disable_ec2_metadata": "true",
        },
    )


def write_source(root: Path, objects: int) -> tuple[StoreConfig, int]:
    """Mixed sizes like Dify uploads: mostly small, some hundreds of KB, a few MB."""
    rng = random.Random(42)
    store = StoreConfig("fs", {"root": str(root)})
    total = 0
    for i in range(objects):
        size = rng.choices([512, 8_192, 65_536, 400_000, 3_000_000], weights=[40, 30, 20, 9, 1])[0]
        path = root / "upload_files" / f"tenant-{i % 20:02d}" / f"{i:07d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        total += size
    return store, total


def sequential(source: StoreConfig, target: StoreConfig, keys: list[str]) -> float:
    src, dst = source.operator(), target.operator()
    started = time.monotonic()
    for key in keys:
        dst.write(key, bytes(src.read(key)))
    return time.monotonic() - started


def ours(source: StoreConfig, target: StoreConfig, shards: int, concurrency: int) -> tuple[float, list[dict]]:
    started = time.monotonic()
    inv = migration.inventory(source, target, ["upload_files/"], shards)
    with ThreadPoolExecutor(shards) as pool:  # the mapped tasks of the DAG, here as threads
        results = list(
            pool.map(
                lambda n: migration.copy_shard(source, target, inv["migration_id"], n, concurrency=concurrency), inv["shards"]
            )
        )
    return time.monotonic() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--baseline-objects", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--relay", nargs=3, metavar=("UPSTREAM", "PORT", "DELAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        relay = LatencyRelay(int(args.relay[0]), float(args.relay[2]))
        relay.port = int(args.relay[1])
        asyncio.run(relay.serve())
        return
    proc, moto_port = start_moto()
    relay = LatencyRelay(moto_port, args.latency_ms / 1000)
    if args.latency_ms > 0:
        relay.start()
    else:
        relay.port = moto_port  # no relay: straight to moto_server
    try:
        with tempfile.TemporaryDirectory(prefix="dm-bench-storage-") as tmp:
            started = time.monotonic()
            source, total = write_source(Path(tmp) / "src", args.objects)
            print(
                f"source: {args.objects:,} objects, {total / 1e6:,.0f} MB on local disk ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
            keys = sorted(k for k, _ in migration.list_objects(source, "upload_files/"))[: args.baseline_objects]
            base_bytes = sum((Path(tmp) / "src" / k).stat().st_size for k in keys)
            seq_seconds = sequential(source, s3_store(relay.port, "sequential"), keys)
            seq_fps, seq_mbps = len(keys) / seq_seconds, base_bytes / 1e6 / seq_seconds
            print(
                f"  sequential  {len(keys):>7,} objects {seq_seconds:8.1f} s  {seq_fps:8.1f} files/s  {seq_mbps:7.1f} MB/s",
                flush=True,
            )
            seconds, results = ours(source, s3_store(relay.port, "ours"), args.shards, args.concurrency)
            copied = sum(r["copied"] for r in results)
            failed = sum(len(r["failed"]) for r in results)
            fps, mbps = copied / seconds, sum(r["copied_bytes"] for r in results) / 1e6 / seconds
            print(
                f"  ours        {copied:>7,} objects {seconds:8.1f} s  {fps:8.1f} files/s  {mbps:7.1f} MB/s  "
                f"(verified: size + sha256 read back; failed {failed})",
                flush=True,
            )
            print(f"latency {args.latency_ms:.0f} ms each way; {args.shards} shards x {args.concurrency} in flight")
            print(f"ratio files/s ours / sequential: {fps / seq_fps:.1f}x (target >= 5)")
            print(f"ratio MB/s ours / sequential: {mbps / seq_mbps:.1f}x")
    finally:
        relay.stop()
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
