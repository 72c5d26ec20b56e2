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


class ElasticsearchFace:
    """An HTTP relay in front of osmem-server that answers as Elasticsearch 8 does where it
    matters here: ``GET /`` (product, version, cluster UUID and name) and the product header.
    ``max_content_length`` makes it refuse bigger requests with 413 and report the limit in the
    cluster settings, as Elasticsearch does; ``down`` drops every request (the cluster is gone)."""

    def __init__(
        self,
        target_url: str,
        *,
        version: str = "8.14.3",
        cluster_uuid: str = "es-face-uuid",
        cluster_name: str = "es-face",
        max_content_length: int | None = None,
    ) -> None:
        import http.client
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        face = self
        self.target = target_url.removeprefix("http://")
        self.version, self.cluster_uuid, self.cluster_name = version, cluster_uuid, cluster_name
        self.max_content_length = max_content_length
        self.down = False
        self.requests: list[tuple[str, str, int]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY each answer waits ~40 ms
            # for the client's delayed ACK
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                face.requests.append((self.command, self.path, len(body)))
                if face.down:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if self.command == "GET" and self.path.split("?")[0] in ("", "/"):
                    self._answer(200, json.dumps(face.info()).encode())
                    return
                limit = face.max_content_length
                if limit is not None and len(body) > limit:
                    error = {"error": {"type": "content_too_long", "reason": "request too large"}, "status": 413}
                    self._answer(413, json.dumps(error).encode())
                    return
                upstream = http.client.HTTPConnection(face.target, timeout=60)
                headers = {"Content-Type": self.headers.get("Content-Type") or "application/json"}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                upstream.close()
                if limit is not None and self.path.startswith("/_cluster/settings") and response.status == 200:
                    settings = json.loads(data)
                    settings.setdefault("defaults", {})["http.max_content_length"] = f"{limit}b"
                    data = json.dumps(settings).encode()
                self._answer(response.status, data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def info(self) -> dict:
        return {
            "name": "es-face-node",
            "cluster_name": self.cluster_name,
            "cluster_uuid": self.cluster_uuid,
            "version": {"number": self.version, "build_flavor": "default", "lucene_version": "9.10.0"},
            "tagline": "You Know, for Search",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def expected_documents(url: str, storage=None) -> dict[str, dict[str, tuple[str, dict]]]:
    """Every row of the three log tables as (the index Dify reads it from, the document it must
    be there), offloaded payloads inlined from ``storage``; rows whose document cannot be made
    are left out."""
    import psycopg

    from dify_maintenance.logstore.documents import DATA_TYPES, Refused, index_name, month_label, normalized, to_document

    found: dict[str, dict[str, tuple[str, dict]]] = {}
    offloaded: dict[str, dict] = {}
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        has_offloads = conn.execute("select to_regclass('workflow_node_execution_offload') is not null as e").fetchone()["e"]
        if has_offloads and storage is not None:
            op = storage.operator()
            for r in conn.execute(
                "select o.node_execution_id::text as id, o.type, f.key from workflow_node_execution_offload o "
                "join upload_files f on f.id = o.file_id"
            ).fetchall():
                offloaded.setdefault(r["id"], {})[r["type"]] = json.loads(bytes(op.read(r["key"])))
        for name, dt in DATA_TYPES.items():
            if not conn.execute("select to_regclass(%s) is not null as e", (dt.table,)).fetchone()["e"]:
                continue
            docs = {}
            for row in conn.execute(f"select * from {dt.table}").fetchall():  # noqa: S608 - our own table names
                index = index_name("dify", dt, "per_tenant", str(row["tenant_id"]), month_label(row["created_at"]))
                try:
                    docs[str(row["id"])] = (index, normalized(to_document(dt, row, offloaded.get(str(row["id"])))))
                except Refused:
                    continue
            found[name] = docs
    return found


def audit_deleted(before: dict[str, dict[str, tuple[str, dict]]], url: str, client) -> tuple[int, list[str]]:
    """Every row deleted since ``before`` (``expected_documents`` just before a cleanup) against
    the cluster, at the index Dify reads it from: (rows deleted, those without their document as
    it was)."""
    import psycopg

    from dify_maintenance.logstore.documents import DATA_TYPES

    client.indices.refresh(index="dify-*", ignore_unavailable=True, allow_no_indices=True)
    deleted, wrong = 0, []
    with psycopg.connect(url) as conn:
        for name, rows in before.items():
            table = DATA_TYPES[name].table
            left = {r[0] for r in conn.execute(f"select id::text from {table}").fetchall()}  # noqa: S608
            gone = sorted(set(rows) - left)
            deleted += len(gone)
            for start in range(0, len(gone), 500):
                part = gone[start : start + 500]
                body = {"docs": [{"_index": rows[i][0], "_id": i} for i in part]}
                got = {d["_id"]: d.get("_source") for d in client.mget(body=body)["docs"] if d.get("found")}
                wrong.extend(f"{name} {i}" for i in part if got.get(i) != rows[i][1])
    return deleted, wrong
