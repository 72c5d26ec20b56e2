"""The log cluster for tests: osmem-server (an in-memory OpenSearch-compatible server) started on
127.0.0.1, and a TCP relay in front of it that a test can cut to make the cluster go away."""

from __future__ import annotations

import json
import socket
import threading

from osmem_server import OsmemServer

from dify_maintenance.logstore.cluster import ClusterConfig


def start_cluster() -> OsmemServer:
    return OsmemServer.start(japanese=False)


def cluster_for(url: str, **extra) -> ClusterConfig:
    return ClusterConfig(hosts=(url,), **extra)


def airflow_conn(url: str) -> str:
    host, port = url.removeprefix("http://").split(":")
    return json.dumps({"conn_type": "generic", "host": host, "port": int(port), "schema": "http", "extra": {"max_retries": 1}})


class Relay:
    """Forwards 127.0.0.1:<port> to the cluster; ``cut()`` closes the listener and every open
    connection (the cluster is gone), ``restore()`` listens again on the same port."""

    def __init__(self, target_url: str) -> None:
        host, port = target_url.removeprefix("http://").split(":")
        self.target = (host, int(port))
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        if self.listener:
            self.listener.close()
            self.listener = None
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.sockets.clear()
