"""Read routing with DATABASE_REPLICA_URL: reads on the replica, writes on the primary, a writer's
reads on the primary until the replica has replayed the write, the primary when the replica fails.

The "replica" here is a second engine on the test database, so which engine served a request is
what the tests observe; the replica's lag is set by leaving the monitor's replayed position behind
the primary's. WAL positions exist only on PostgreSQL: those tests are marked `postgres`; the
routing itself is checked on both databases. The real streaming replica is in tests/test_cluster.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from webapp.extensions import db
from webapp.routing import REPLICA, MemoryStore, parse_lsn

from .conftest import UserFactory, make_app, truncate_all

# Nothing listens here (a port of this project's local range): a replica that is gone.
DEAD_REPLICA = "postgresql+psycopg://postgres@127.0.0.1:55439/conduit"
DEAD_SQLITE_REPLICA = "sqlite:////nonexistent-directory/replica.db"


class EngineCounter:
    """Statements each engine ran while active: {"primary": [...], "replica": [...]}."""

    def __init__(self, app: Flask) -> None:
        self.seen: dict[str, list[str]] = {"primary": [], "replica": []}
        with app.app_context():
            self.engines = {"primary": db.engines[None], "replica": db.engines[REPLICA]}
        self.listeners = {}
        for name, engine in self.engines.items():
            self.listeners[name] = self._listener(name)
            event.listen(engine, "before_cursor_execute", self.listeners[name])

    def _listener(self, name: str) -> Any:
        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            self.seen[name].append(statement)

        return record

    def reset(self) -> None:
        for statements in self.seen.values():
            statements.clear()

    def counts(self) -> tuple[int, int]:
        """(primary, replica) statement counts since the last reset."""
        return len(self.seen["primary"]), len(self.seen["replica"])

    def close(self) -> None:
        for name, engine in self.engines.items():
            event.remove(engine, "before_cursor_execute", self.listeners[name])


def routed_app(database_url: str, replica_url: str | None = None) -> Flask:
    """An app with a replica; the monitor probes only when a test calls probe()."""
    return make_app(
        database_url,
        DATABASE_REPLICA_URL=replica_url or database_url,
        REPLICA_PROBE_INTERVAL=0,
    )


def caught_up(app: Flask) -> None:
    """The replica has replayed everything: probed on PostgreSQL, declared on SQLite."""
    monitor = app.extensions["routing"].monitor
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        monitor.probe()
    else:
        monitor.usable, monitor.replayed = True, 0


@pytest.fixture
def routed(database_url: str, _schema: None) -> Iterator[tuple[Flask, EngineCounter]]:
    """A routed app whose replica is caught up, with a per-engine statement counter."""
    app = routed_app(database_url)
    caught_up(app)
    counter = EngineCounter(app)
    yield app, counter
    counter.close()
    app.extensions["routing"].monitor.stop()
    with app.app_context():
        truncate_all()
        for engine in db.engines.values():
            engine.dispose()


def publish(client: Any, user: dict, title: str = "Routed") -> dict:
    response = client.post(
        "/api/articles",
        json={"article": {"title": title, "description": "d", "body": "b"}},
        headers=user["headers"],
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["article"]


def test_without_replica_url_there_is_no_second_engine(app: Flask) -> None:
    with app.app_context():
        assert list(db.engines) == [None]
    assert "routing" not in app.extensions


def test_anonymous_reads_are_served_by_the_replica(routed) -> None:
    app, counter = routed
    client = app.test_client()
    author = UserFactory(client)()
    article = publish(client, author)
    caught_up(app)

    counter.reset()
    response = client.get(f"/api/articles/{article['slug']}")
    assert response.status_code == 200
    assert response.get_json()["article"]["title"] == "Routed"
    assert counter.counts() == (0, 1)

    counter.reset()
    assert client.get("/api/articles").get_json()["articlesCount"] == 1
    assert client.get("/api/tags").status_code == 200
    assert counter.counts()[0] == 0


def test_writes_and_everything_in_them_use_the_primary(routed) -> None:
    app, counter = routed
    client = app.test_client()
    author = UserFactory(client)()
    counter.reset()
    article = publish(client, author)
    client.post(f"/api/articles/{article['slug']}/favorite", headers=author["headers"])
    response = client.post(
        f"/api/articles/{article['slug']}/comments",
        json={"comment": {"body": "First"}},
        headers=author["headers"],
    )
    assert response.status_code == 200
    primary, replica = counter.counts()
    assert replica == 0
    assert primary > 0


@pytest.mark.postgres
def test_a_writer_reads_from_the_primary_until_the_replica_replays_the_write(routed) -> None:
    app, counter = routed
    client = app.test_client()
    writer, other = UserFactory(client)(), UserFactory(client)()
    monitor = app.extensions["routing"].monitor
    monitor.probe()
    # The replica stays where it is (lagging): the monitor does not probe again until told.
    article = publish(client, writer)

    for _ in range(3):  # every time, not once
        counter.reset()
        response = client.get(f"/api/articles/{article['slug']}", headers=writer["headers"])
        assert response.status_code == 200
        assert counter.counts() == (2, 0)  # the token's account, then the article

    counter.reset()
    client.get(f"/api/articles/{article['slug']}", headers=other["headers"])
    client.get(f"/api/articles/{article['slug']}")
    assert counter.counts()[0] == 0  # other readers stay on the replica

    monitor.probe()  # the replica has now replayed the write
    counter.reset()
    client.get(f"/api/articles/{article['slug']}", headers=writer["headers"])
    assert counter.counts() == (0, 2)


@pytest.mark.postgres
def test_a_new_account_reads_itself_from_the_primary(routed) -> None:
    app, counter = routed
    client = app.test_client()
    app.extensions["routing"].monitor.probe()
    user = UserFactory(client)()  # registration: the token did not exist before this write
    counter.reset()
    response = client.get("/api/user", headers=user["headers"])
    assert response.status_code == 200
    assert response.get_json()["user"]["username"] == user["username"]
    assert counter.counts()[1] == 0


def test_routing_adds_no_statement_to_a_read(routed) -> None:
    app, counter = routed
    client = app.test_client()
    author, reader = UserFactory(client)(), UserFactory(client)()
    article = publish(client, author)
    caught_up(app)
    for path in ("/api/articles", f"/api/articles/{article['slug']}", "/api/user"):
        counter.reset()
        response = client.get(path, headers=reader["headers"])
        assert response.status_code == 200
        primary, replica = counter.counts()
        assert primary == 0
        assert replica <= 2, counter.seen["replica"]


@pytest.mark.postgres
def test_a_write_records_its_position_with_one_statement(routed) -> None:
    app, counter = routed
    client = app.test_client()
    author = UserFactory(client)()
    counter.reset()
    publish(client, author)
    assert counter.seen["primary"][-1].startswith("SELECT pg_current_wal_lsn()")
    store = app.extensions["routing"].store
    assert store.position(_user_id(app, author)) is not None


def _user_id(app: Flask, user: dict) -> int:
    from webapp.core.models import User

    with app.app_context():
        return db.session.scalar(db.select(User.id).filter_by(username=user["username"]))


@pytest.fixture
def dead_replica(database_url: str, _schema: None) -> Iterator[Flask]:
    """A routed app whose replica does not answer, though the monitor last saw it up."""
    dead = DEAD_REPLICA if database_url.startswith("postgresql") else DEAD_SQLITE_REPLICA
    app = routed_app(database_url, dead)
    app.extensions["routing"].monitor.usable = True
    yield app
    app.extensions["routing"].monitor.stop()
    with app.app_context():
        truncate_all()
        for engine in db.engines.values():
            engine.dispose()


def test_a_failed_replica_falls_back_to_the_primary_within_the_request(dead_replica) -> None:
    app = dead_replica
    client = app.test_client()
    author = UserFactory(client)()
    publish(client, author, "Still readable")
    monitor = app.extensions["routing"].monitor
    monitor.usable = True

    response = client.get("/api/articles")
    assert response.status_code == 200
    assert response.get_json()["articles"][0]["title"] == "Still readable"
    assert monitor.usable is False
    # Later reads go straight to the primary while the replica is down.
    counter = EngineCounter(app)
    try:
        assert client.get("/api/articles").status_code == 200
        assert counter.counts() == (1, 0)
    finally:
        counter.close()


@pytest.mark.postgres
def test_reads_return_to_the_replica_once_a_probe_succeeds(routed) -> None:
    app, counter = routed
    client = app.test_client()
    monitor = app.extensions["routing"].monitor
    monitor.mark_down()
    counter.reset()
    client.get("/api/articles")
    assert counter.counts() == (1, 0)
    monitor.probe()
    counter.reset()
    client.get("/api/articles")
    assert counter.counts() == (0, 1)


@pytest.mark.postgres
def test_a_probe_of_a_dead_replica_marks_it_down(dead_replica) -> None:
    monitor = dead_replica.extensions["routing"].monitor
    monitor.probe()
    assert monitor.usable is False


@pytest.mark.postgres
@pytest.mark.usefixtures("_schema")
def test_each_worker_probes_in_the_background_once_serving(database_url: str) -> None:
    app = make_app(database_url, DATABASE_REPLICA_URL=database_url, REPLICA_PROBE_INTERVAL=0.05)
    monitor = app.extensions["routing"].monitor
    try:
        assert monitor.usable is False  # nothing probed before the first request
        app.test_client().get("/healthz")
        deadline = time.monotonic() + 10
        while not monitor.usable and time.monotonic() < deadline:
            time.sleep(0.05)
        assert monitor.usable is True
        assert monitor.lag < 1
    finally:
        monitor.stop()
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


def test_wal_positions_compare_as_numbers() -> None:
    assert parse_lsn("0/16B3748") == 0x16B3748
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")


def test_a_remembered_position_only_grows_and_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore(ttl=60)
    store.remember([7], 200)
    store.remember([7, 8], 100)  # an older commit recorded late does not move 7 back
    assert store.position(7) == 200
    assert store.position(8) == 100
    assert store.position(9) is None
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert store.position(7) is None


@pytest.mark.postgres
@pytest.mark.usefixtures("_schema")
def test_the_replica_engine_has_the_primarys_engine_options(database_url):
    # Pool size, prepared statements (off behind PgBouncer) and timeouts apply to the replica
    # too: a bind named by its URL alone would get none of them from Flask-SQLAlchemy.
    app = make_app(
        database_url,
        DATABASE_REPLICA_URL=database_url,
        REPLICA_PROBE_INTERVAL=0,
        DB_POOL_SIZE=3,
        DB_PREPARED_STATEMENTS=False,
    )
    with app.app_context():
        for engine in (db.engines[None], db.engines[REPLICA]):
            assert engine.pool.size() == 3
            with engine.connect() as conn:
                assert conn.connection.dbapi_connection.prepare_threshold is None
            engine.dispose()
