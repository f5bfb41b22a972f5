"""Helpers for the end-to-end test: a real gunicorn process, an HTTP client, a cuttable relay."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Reply:
    """What a client saw: status, headers (lower-case names) and the decoded JSON body."""

    status: int
    headers: dict[str, str]
    body: Any


def call(
    port: int,
    method: str,
    path: str,
    payload: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15,
) -> Reply:
    """One request on a new connection (so the kernel may hand it to either worker)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = json.dumps(payload) if payload is not None else None
        sent = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        return Reply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            json.loads(raw) if raw else None,
        )
    finally:
        conn.close()


@dataclass
class Gunicorn:
    """A gunicorn master started from gunicorn.conf.py, its output in a log file."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 20) -> Gunicorn:
        """Start the server and wait until /healthz answers."""
        env = {**self.env, "HOST": "127.0.0.1", "PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_path.read_text()}")
            try:
                if call(self.port, "GET", "/healthz", timeout=2).status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready:\n{self.log_path.read_text()}")

    def terminate(self) -> None:
        """SIGTERM (graceful shutdown); SIGKILL if it is still there after 40 seconds."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 40) -> int:
        """The master's exit code."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def stop(self) -> None:
        """Stop the server if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.terminate()
            self.wait()

    def log_lines(self) -> list[str]:
        """Everything the server wrote so far, one entry per line."""
        return self.log_path.read_text().splitlines()

    def access_record(self, request_id: str, timeout: float = 5) -> dict[str, Any]:
        """The JSON access-log line of one request (written just after its response)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                record = json.loads(line)
                if record["logger"] == "gunicorn.access" and record["request_id"] == request_id:
                    return record
            if time.monotonic() > deadline:
                raise AssertionError(f"no access line for {request_id}")
            time.sleep(0.05)


def run_flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a `flask` command in the project, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env={**env, "FLASK_APP": "wsgi.py"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TcpRelay:
    """A TCP relay to the database that the test can cut (every connection dropped, new ones
    refused or left hanging) and restore, without touching the database server itself."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.held: list[socket.socket] = []
        self.blackhole = False
        self.listener: socket.socket | None = None
        self.port = 0
        self._listen()

    def _listen(self) -> None:
        """Accept on the relay's port (the same one again after a cut)."""
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # listener closed
            if self.blackhole:
                with self.lock:
                    self.held.append(client)  # accepted, never answered
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets |= {client, server}
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(src)
            self._drop(dst)

    def _drop(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv()
        sock.close()

    @property
    def connections(self) -> int:
        """Relayed connections currently open."""
        with self.lock:
            return len(self.sockets) // 2

    def cut(self, *, blackhole: bool = False) -> None:
        """Drop every relayed connection; refuse new ones, or accept and never answer them."""
        self.blackhole = blackhole
        if not blackhole and self.listener is not None:
            self._drop(self.listener)  # shutdown() wakes the accept() so the port is freed
            self.listener = None
        with self.lock:
            relayed = list(self.sockets)
        for sock in relayed:
            self._drop(sock)

    def restore(self) -> None:
        """Relay new connections again."""
        self.blackhole = False
        with self.lock:
            held, self.held = self.held, []
        for sock in held:
            sock.close()
        if self.listener is None:
            self._listen()

    def close(self) -> None:
        """Stop relaying altogether."""
        self.cut()
        with self.lock:
            held, self.held = self.held, []
        for sock in held:
            sock.close()


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment an operator would give the service, pointed at database_url."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "GUNICORN_"))}
    env.update(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "e2e-" + "k" * 28 + "-9f3Qz7Lm2",
            "DATABASE_URL": database_url,
            "WEB_CONCURRENCY": "2",
            "THREADS": "4",
            "LOG_FORMAT": "json",
            "DB_CONNECT_TIMEOUT": "1",
            "DB_POOL_TIMEOUT": "2",
            "RETRY_AFTER_SECONDS": "1",
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST": "1024",
        }
    )
    env.update(extra)
    return env
