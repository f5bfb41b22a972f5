"""End to end: `flask db upgrade`, then the real gunicorn (2 workers, preload_app) as configured.

PostgreSQL runs go through a TCP relay the test controls, so the database can be cut and
restored without touching the server; the outage test needs it and runs on PostgreSQL only.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url, text

from tests.conftest import drop_everything, make_app, truncate_all
from tests.e2e_support import Gunicorn, Reply, TcpRelay, base_env, call, run_flask
from webapp.extensions import db

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def relay(database_url: str) -> Iterator[TcpRelay | None]:
    """On PostgreSQL, a relay in front of the database; SQLite has no network to cut."""
    if not database_url.startswith("postgresql"):
        yield None
        return
    url = make_url(database_url)
    relay = TcpRelay((url.host or "127.0.0.1", url.port or 5432))
    yield relay
    relay.close()


@pytest.fixture(scope="module")
def service_url(database_url: str, relay: TcpRelay | None) -> Iterator[str]:
    """The database URL the service is given (through the relay on PostgreSQL), on an empty
    database that `flask db upgrade` builds; emptied again afterwards for the other tests."""
    app = make_app(database_url)
    with app.app_context():
        drop_everything()
        db.engine.dispose()
    if relay is None:
        yield database_url
    else:
        yield make_url(database_url).set(port=relay.port).render_as_string(hide_password=False)
    with app.app_context():
        truncate_all()
        db.engine.dispose()


@pytest.fixture(scope="module")
def server(
    service_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    """Migrate with `flask db upgrade` in a subprocess, then serve with gunicorn."""
    env = base_env(service_url)
    upgrade = run_flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    app = make_app(database_url)
    with app.app_context():
        assert {"users", "articles", "alembic_version"} <= set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    server = Gunicorn(env, tmp_path_factory.mktemp("e2e") / "server.log").start()
    yield server
    server.stop()


def register(server: Gunicorn, username: str, request_id: str) -> dict:
    """Register through the API; the user with auth headers."""
    payload = {"user": {"username": username, "email": f"{username}@example.com"}}
    payload["user"]["password"] = PASSWORD
    reply = call(server.port, "POST", "/api/users", payload, {"X-Request-ID": request_id})
    assert reply.status == 201, reply.body
    user = reply.body["user"]
    user["headers"] = {"Authorization": f"Token {user['token']}"}
    return user


def test_probes(server: Gunicorn) -> None:
    assert call(server.port, "GET", "/healthz").body == {"status": "ok"}
    ready = call(server.port, "GET", "/readyz")
    assert ready.status == 200
    assert ready.body == {"status": "ok"}
    assert ready.headers["x-content-type-options"] == "nosniff"


def write(server: Gunicorn, method: str, path: str, payload, headers, request_id: str) -> tuple:
    """A write; its reply and the pid of the worker that served it."""
    reply = call(server.port, method, path, payload, {**headers, "X-Request-ID": request_id})
    assert reply.status in {200, 201}, reply.body
    return reply, server.access_record(request_id)["process"]


def read_elsewhere(server: Gunicorn, path: str, headers, writer: int, tag: str) -> Reply:
    """GET path until a worker other than the writer answers (new connections land on either)."""
    for attempt in range(200):
        request_id = f"{tag}-{attempt}"
        reply = call(server.port, "GET", path, None, {**headers, "X-Request-ID": request_id})
        assert reply.status == 200, reply.body
        assert reply.headers["x-request-id"] == request_id
        if server.access_record(request_id)["process"] != writer:
            return reply
    raise AssertionError("every request was served by the same worker")


def test_writes_on_one_worker_are_read_on_the_other(server: Gunicorn) -> None:
    jake = register(server, "jake", "e2e-jake")
    alice = register(server, "alice", "e2e-alice")
    bio = {"user": {"bio": "written by one worker"}}
    _, pid = write(server, "PUT", "/api/user", bio, jake["headers"], "e2e-bio")
    me = read_elsewhere(server, "/api/user", jake["headers"], pid, "e2e-me")
    assert me.body["user"]["bio"] == "written by one worker"

    article = {"article": {"title": "Two workers", "description": "d", "body": "b"}}
    article["article"]["tagList"] = ["gunicorn"]
    created, _ = write(server, "POST", "/api/articles", article, jake["headers"], "e2e-post")
    slug = created.body["article"]["slug"]
    write(server, "POST", "/api/profiles/jake/follow", None, alice["headers"], "e2e-follow")
    comment = {"comment": {"body": "seen from the other side"}}
    write(server, "POST", f"/api/articles/{slug}/comments", comment, alice["headers"], "e2e-cmt")
    _, pid = write(
        server, "POST", f"/api/articles/{slug}/favorite", None, alice["headers"], "e2e-fav"
    )

    seen = read_elsewhere(server, f"/api/articles/{slug}", alice["headers"], pid, "e2e-art")
    assert seen.body["article"]["favorited"] is True
    assert seen.body["article"]["favoritesCount"] == 1
    assert seen.body["article"]["author"]["following"] is True
    assert seen.body["article"]["tagList"] == ["gunicorn"]
    comments = read_elsewhere(server, f"/api/articles/{slug}/comments", {}, pid, "e2e-cmts")
    assert [c["body"] for c in comments.body["comments"]] == ["seen from the other side"]
    feed = read_elsewhere(server, "/api/articles/feed", alice["headers"], pid, "e2e-feed")
    assert [a["slug"] for a in feed.body["articles"]] == [slug]


def test_kept_alive_connections_are_spread_over_both_workers(server: Gunicorn) -> None:
    """16 clients keeping their connections open (as a proxy does) are served by both workers:
    a worker holding 2 x THREADS connections stops accepting, so the others go to the next one
    instead of one worker keeping them all while the other idles."""
    clients, rounds = 16, 15

    def client(number: int) -> list[str]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        sent = []
        try:
            for round_ in range(rounds):
                request_id = f"e2e-keep-{number}-{round_}"
                conn.request("GET", "/api/tags", headers={"X-Request-ID": request_id})
                response = conn.getresponse()
                response.read()
                assert response.status == 200
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()  # the worker had enough idle connections: reconnect
                sent.append(request_id)
        finally:
            conn.close()
        return sent

    with ThreadPoolExecutor(clients) as pool:
        sent = [request_id for ids in pool.map(client, range(clients)) for request_id in ids]
    served: dict[int, int] = {}
    for request_id in sent:
        process = server.access_record(request_id)["process"]
        served[process] = served.get(process, 0) + 1
    assert len(served) == 2, served
    assert min(served.values()) >= len(sent) // 5, served


def test_logs_are_json_lines_with_request_fields_and_no_secrets(server: Gunicorn) -> None:
    jake = register(server, "logged", "e2e-logged")
    login = {"user": {"email": "logged@example.com", "password": PASSWORD}}
    reply = call(server.port, "POST", "/api/users/login", login, {"X-Request-ID": "e2e-login"})
    assert reply.status == 200
    record = server.access_record("e2e-login")
    assert record["method"] == "POST"
    assert record["path"] == "/api/users/login"
    assert record["status"] == 200
    assert record["duration_ms"] > 0
    output = "\n".join(server.log_lines())
    assert PASSWORD not in output
    assert jake["token"] not in output
    assert reply.body["user"]["token"] not in output


def test_access_lines_can_be_turned_off(
    service_url: str, server: Gunicorn, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A second server on the migrated database (`server`), without access lines.
    env = base_env(service_url, GUNICORN_ACCESS_LOG="false")
    quiet = Gunicorn(env, tmp_path_factory.mktemp("quiet") / "server.log").start()
    try:
        for request_id in ("quiet-1", "quiet-2"):
            reply = call(quiet.port, "GET", "/api/tags", None, {"X-Request-ID": request_id})
            assert reply.status == 200
            assert reply.headers["x-request-id"] == request_id
    finally:
        quiet.stop()
    records = [json.loads(line) for line in quiet.log_lines()]
    assert records  # the server still logs (startup, shutdown) ...
    assert [record for record in records if record["logger"] == "gunicorn.access"] == []


@pytest.mark.postgres
def test_database_outage_answers_503_then_heals_by_itself(
    server: Gunicorn, relay: TcpRelay, database_url: str
) -> None:
    carol = register(server, "carol", "e2e-carol")
    carol_login = {"user": {"email": "carol@example.com", "password": PASSWORD}}
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        """Keep authenticated reads coming during the outage, like real traffic."""
        while not stop.is_set():
            statuses.append(call(server.port, "GET", "/api/user", None, carol["headers"]).status)

    with ThreadPoolExecutor(4) as pool:
        loaders = [pool.submit(load) for _ in range(4)]
        time.sleep(0.5)
        for blackhole in (False, True):  # refused, then accepted but never answered
            relay.cut(blackhole=blackhole)
            started = time.monotonic()
            down = call(server.port, "GET", "/readyz")
            assert down.status == 503
            assert down.body["errors"]["body"]
            assert int(down.headers["retry-after"]) > 0
            assert time.monotonic() - started < 5  # connect timeout 1 s, pool timeout 2 s
            login = call(server.port, "POST", "/api/users/login", carol_login)
            assert login.status == 503
            assert login.headers["retry-after"]
            time.sleep(1)
            relay.restore()
            deadline = time.monotonic() + 10
            while call(server.port, "GET", "/readyz").status != 200:
                assert time.monotonic() < deadline, "did not recover"
                time.sleep(0.2)
        time.sleep(0.5)
        stop.set()
        for loader in loaders:
            loader.result()  # a hung request would raise a timeout here

    assert set(statuses) == {200, 503}, "outage answers are 503, never 500 or a hang"
    errors = [line for line in server.log_lines() if json.loads(line)["level"] == "ERROR"]
    assert not errors, errors[0]
    # Healed on both workers, without a restart: every read works again.
    for _ in range(20):
        assert call(server.port, "GET", "/api/user", None, carol["headers"]).status == 200
    # No leaked connections: at most workers x pool size are open to the database.
    assert relay.connections <= 2 * 4
    app = make_app(database_url)
    with app.app_context(), db.engine.connect() as conn:
        open_now = conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    with app.app_context():
        db.engine.dispose()
    assert open_now <= 2 * 4


def test_sigterm_lets_a_request_in_flight_finish(
    server: Gunicorn, service_url: str, tmp_path: Path
) -> None:
    # Expensive password hashing is a natural slow request: registration takes about 2 s.
    env = base_env(service_url, ARGON2_TIME_COST="16", ARGON2_MEMORY_COST="65536")
    slow = Gunicorn(env, tmp_path / "slow.log").start()
    try:
        with ThreadPoolExecutor(1) as pool:
            payload = {
                "user": {"username": "slow", "email": "slow@example.com", "password": PASSWORD}
            }
            pending = pool.submit(call, slow.port, "POST", "/api/users", payload)
            time.sleep(0.5)
            assert not pending.done()
            slow.terminate()
            signalled = time.monotonic()
            reply = pending.result(timeout=30)
            answered = time.monotonic()
        assert reply.status == 201
        assert reply.body["user"]["username"] == "slow"
        assert answered > signalled  # it was still in flight when SIGTERM arrived
        assert slow.wait(timeout=30) == 0
    finally:
        slow.stop()
    with pytest.raises(ConnectionRefusedError):
        call(slow.port, "GET", "/healthz", timeout=2)
