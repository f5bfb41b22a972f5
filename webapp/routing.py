"""Read routing: read-only requests on a streaming replica, writes on the primary, and each user's
reads on the primary until the replica has replayed that user's last commit (read-your-writes).

Active only when DATABASE_REPLICA_URL is set; without it every statement goes to DATABASE_URL as
before. How it decides, per request and without adding a SQL statement to any read:

- A request whose method is not GET/HEAD/OPTIONS uses the primary for everything it does.
- After a write request committed, the primary's WAL position (``pg_current_wal_lsn()``, one
  statement on the write request) is remembered for the writers: the caller and any account the
  request created. The store is Redis (ROUTING_REDIS_URL, shared by every app host) or, without it,
  this process's memory.
- A background thread in each worker reads the replica's replayed position
  (``pg_last_wal_replay_lsn()``) and the primary's position every REPLICA_PROBE_INTERVAL seconds
  on connections of its own. A read request whose caller has a remembered position beyond the
  replica's replayed one is served by the primary; other reads by the replica. The only per-read
  cost is one Redis GET for an authenticated caller.
- A replica that fails a statement is marked down and the read is run again on the primary within
  the same HTTP request (webapp.transactions.RetryReads); reads return to the replica after a
  probe succeeds.
  A replica more than REPLICA_MAX_LAG_SECONDS behind is treated as down, so nobody reads data
  older than that.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, request
from flask_sqlalchemy.session import Session
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc

from config import normalize_database_url

from .transactions import ATTEMPT, READ_METHODS, RETRY_KEY, is_read_request, reading_engine

log = logging.getLogger(__name__)

REPLICA = "replica"
PRIMARY = "primary"

# Keys in the WSGI environ: the route chosen for this attempt at the request (a rerun chooses
# again), and the rerun of a read on the primary after the replica failed it.
ROUTE_KEY = ATTEMPT + "route"
FORCE_PRIMARY_KEY = "conduit.routing.force_primary"
COMMITTED_KEY = "conduit.routing.committed"
WRITERS_KEY = "conduit.routing.writers"

# Defaults for the tuning knobs, read from the app's config when present.
DEFAULTS = {
    "REPLICA_PROBE_INTERVAL": 0.2,
    "REPLICA_MAX_LAG_SECONDS": 30.0,
    # A remembered position outlives the longest lag the replica is used with.
    "READ_YOUR_WRITES_TTL": 120,
}
REDIS_PREFIX = "conduit:ryw:"

# Keep the larger position: two hosts may record the same user's commits out of order.
# Positions are fixed-width hex strings, so string order is numeric order.
_SET_MAX = """
local current = redis.call('GET', KEYS[1])
if (not current) or current < ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""


def parse_lsn(value: str) -> int:
    """A PostgreSQL WAL position ("16/B374D848") as an integer."""
    high, _, low = value.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class MemoryStore:
    """Writers' positions in this process (one app host)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._positions: dict[int, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def remember(self, user_ids: Iterable[int], lsn: int) -> None:
        """Record that these users committed up to lsn."""
        expires = time.monotonic() + self.ttl
        with self._lock:
            for user_id in user_ids:
                current = self._positions.get(user_id)
                if current is None or current[0] < lsn:
                    self._positions[user_id] = (lsn, expires)

    def position(self, user_id: int) -> int | None:
        """The user's last commit position, if still remembered."""
        entry = self._positions.get(user_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]


class RedisStore:
    """Writers' positions in Redis, shared by every app host."""

    def __init__(self, url: str, ttl: float) -> None:
        import redis

        # Short timeouts: a Redis outage sends reads to the primary instead of stalling them.
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.ttl = int(ttl)
        self._set_max = self.client.register_script(_SET_MAX)

    def remember(self, user_ids: Iterable[int], lsn: int) -> None:
        """Record that these users committed up to lsn."""
        for user_id in user_ids:
            self._set_max(keys=[f"{REDIS_PREFIX}{user_id}"], args=[f"{lsn:016x}", self.ttl])

    def position(self, user_id: int) -> int | None:
        """The user's last commit position, if still remembered."""
        value = self.client.get(f"{REDIS_PREFIX}{user_id}")
        return None if value is None else int(value, 16)


class ReplicaMonitor:
    """What this process knows of the replica: up or down, and how far it has replayed."""

    def __init__(
        self,
        primary_url: str,
        replica_url: str,
        engine_options: dict[str, Any],
        interval: float,
        max_lag: float,
    ) -> None:
        self.primary_url = primary_url
        self.replica_url = replica_url
        # The probe's own connections: never the app's pools (no statement on a request's engine,
        # no pooled connection taken from a request thread).
        self.connect_args = dict(engine_options.get("connect_args", {}))
        self.interval = interval
        self.max_lag = max_lag
        self.usable = False
        self.replayed: int | None = None
        self.lag = 0.0
        self._samples: deque[tuple[float, int]] = deque()
        self._engines: tuple[sa.Engine, sa.Engine] | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the probe thread in this process (once; again in a forked worker)."""
        if self._pid == os.getpid() or self.interval <= 0:  # 0: probe() is called by hand
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._engines = None  # a parent's engines are not this process's
            self._stop.clear()
            threading.Thread(target=self._run, name="replica-monitor", daemon=True).start()

    def stop(self) -> None:
        """Stop the probe thread and close its connections."""
        self._stop.set()
        if self._engines is not None:
            for engine in self._engines:
                engine.dispose()

    def mark_down(self) -> None:
        """The replica failed a statement: read from the primary until a probe succeeds."""
        if self.usable:
            log.warning("replica unavailable; reads go to the primary")
        self.usable = False

    def probe(self) -> None:
        """Measure once: the replica's replayed position, the primary's position, the lag."""
        primary, replica = self._probe_engines()
        try:
            with replica.connect() as conn:
                replayed = conn.execute(text("SELECT pg_last_wal_replay_lsn()::text")).scalar()
                if replayed is None:  # not a standby (a promoted replica, or the primary itself)
                    replayed = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        except sa_exc.DBAPIError as error:
            self.mark_down()
            replica.dispose()
            log.debug("replica probe failed: %s", error)
            return
        now = time.monotonic()
        try:
            with primary.connect() as conn:
                head = parse_lsn(
                    conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
                )
            self._samples.append((now, head))
        except sa_exc.DBAPIError:
            primary.dispose()  # the primary's own outage is the request's business, not routing's
        self.replayed = parse_lsn(replayed)
        # Lag: age of the oldest primary position the replica has not replayed yet.
        while self._samples and (
            self._samples[0][1] <= self.replayed or now - self._samples[0][0] > 2 * self.max_lag
        ):
            self._samples.popleft()
        self.lag = now - self._samples[0][0] if self._samples else 0.0
        usable = self.lag <= self.max_lag
        if usable and not self.usable:
            log.info("replica available; reads go to the replica")
        elif not usable and self.usable:
            log.warning("replica %.1f s behind; reads go to the primary", self.lag)
        self.usable = usable

    def _probe_engines(self) -> tuple[sa.Engine, sa.Engine]:
        if self._engines is None:
            options = {"pool_size": 1, "max_overflow": 0, "connect_args": self.connect_args}
            self._engines = (
                sa.create_engine(self.primary_url, **options),
                sa.create_engine(self.replica_url, **options),
            )
        return self._engines

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe()
            except Exception:  # the thread must outlive any surprise; the next probe retries
                log.exception("replica probe crashed")
                self.mark_down()
            self._stop.wait(self.interval)


class Router:
    """Per-app routing state: the replica monitor and the writers' positions."""

    def __init__(self, app: Flask) -> None:
        config = {key: app.config.get(key, value) for key, value in DEFAULTS.items()}
        self.monitor = ReplicaMonitor(
            app.config["SQLALCHEMY_DATABASE_URI"],
            app.config["DATABASE_REPLICA_URL"],
            app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
            float(config["REPLICA_PROBE_INTERVAL"]),
            float(config["REPLICA_MAX_LAG_SECONDS"]),
        )
        redis_url = app.config.get("ROUTING_REDIS_URL")
        ttl = float(config["READ_YOUR_WRITES_TTL"])
        self.store: MemoryStore | RedisStore = (
            RedisStore(redis_url, ttl) if redis_url else MemoryStore(ttl)
        )

    def choose(self) -> str:
        """The engine for the current request: the replica only for a read nobody is waiting on."""
        if request.method not in READ_METHODS or request.environ.get(FORCE_PRIMARY_KEY):
            return PRIMARY
        if not self.monitor.usable:
            return PRIMARY
        user_id = _caller_id()
        if user_id is None:
            return REPLICA
        try:
            position = self.store.position(user_id)
        except Exception as error:  # Redis down: the safe answer is the primary
            log.warning("read-your-writes store unavailable: %s", error)
            return PRIMARY
        replayed = self.monitor.replayed
        if position is not None and (replayed is None or position > replayed):
            return PRIMARY
        return REPLICA


def _caller_id() -> int | None:
    """The user id the request's token names, None when anonymous or invalid; read without a
    statement, since choosing the database must come before the first one."""
    from .auth import claimed_user_id

    return claimed_user_id()


def router() -> Router | None:
    """This app's router, None when no replica is configured."""
    return current_app.extensions.get("routing")


class RoutingSession(Session):
    """Flask-SQLAlchemy's session: a read-only request's statements go to the replica when it is
    routed there, and run in autocommit (webapp.transactions) wherever they go."""

    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: sa.Engine | sa.Connection | None = None,
        **kwargs: Any,
    ) -> sa.Engine | sa.Connection:
        """The engine for this statement: the request's route, autocommit for a read."""
        chosen = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if bind is not None or not is_read_request() or not isinstance(chosen, sa.Engine):
            return chosen
        return _read_route(self._db.engines, chosen)

    @classmethod
    def read_only_engine(cls) -> sa.Engine | None:
        """The engine a read-only request's column statements run on without opening a session
        (webapp.core.database.SESSIONLESS_HOOK): what get_bind gives the default bind; None
        outside a read-only request."""
        if not is_read_request():
            return None
        engines = current_app.extensions["sqlalchemy"].engines
        return _read_route(engines, engines[None])


def _read_route(engines: Mapping[str | None, sa.Engine], chosen: sa.Engine) -> sa.Engine:
    """A read-only request's engine: the replica's when the request is routed there (chosen once
    per attempt), else the chosen one; in autocommit either way."""
    routes = router()
    if routes is not None:
        environ = request.environ
        route = environ.get(ROUTE_KEY)
        if route is None:
            route = environ[ROUTE_KEY] = routes.choose()
        if route == REPLICA:
            chosen = engines[REPLICA]
    return reading_engine(chosen)


def _replica_error(context: sa.engine.ExceptionContext) -> None:
    """A connection-level failure on the replica: mark it down and have the read rerun."""
    if (
        not isinstance(
            context.sqlalchemy_exception, sa_exc.OperationalError | sa_exc.InterfaceError
        )
        and not context.is_disconnect
    ):
        return
    if has_request_context():
        request.environ[RETRY_KEY] = True
        request.environ[FORCE_PRIMARY_KEY] = True
        routes = router()
        if routes is not None:
            routes.monitor.mark_down()


def _after_flush(session: Any, _flush_context: Any) -> None:
    """Remember accounts created in this request: their first reads must see them."""
    if not has_request_context() or router() is None:
        return
    from webapp.core.models import User

    created = {obj.id for obj in session.new if isinstance(obj, User)}
    if created:
        request.environ.setdefault(WRITERS_KEY, set()).update(created)


def _after_commit(_session: Any) -> None:
    """Note that this request committed on the primary."""
    if has_request_context() and router() is not None:
        request.environ[COMMITTED_KEY] = True


def _remember_writes(response: Any) -> Any:
    """After a committed write, remember the primary's WAL position for the writers."""
    routes = router()
    environ = request.environ
    if routes is None or not environ.get(COMMITTED_KEY):
        return response
    writers = set(environ.get(WRITERS_KEY, ()))
    caller = _caller_id()
    if caller is not None:
        writers.add(caller)
    if not writers:
        return response
    from .extensions import db

    try:
        lsn = parse_lsn(db.session.scalar(text("SELECT pg_current_wal_lsn()::text")))
        routes.store.remember(writers, lsn)
    except Exception as error:  # the write stands; only its read-your-writes is not recorded
        log.warning("could not record the write position: %s", error)
    return response


event.listen(RoutingSession, "after_flush", _after_flush)
event.listen(RoutingSession, "after_commit", _after_commit)


def configure(app: Flask) -> None:
    """Declare the replica as a Flask-SQLAlchemy bind; call before db.init_app."""
    url = app.config.get("DATABASE_REPLICA_URL")
    if url:
        url = app.config["DATABASE_REPLICA_URL"] = normalize_database_url(url)
        # With the primary's engine options (pool size, timeouts, prepared statements off behind
        # PgBouncer): Flask-SQLAlchemy gives a bind named by its URL alone none of them.
        options = {**app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "url": url}
        binds = app.config.get("SQLALCHEMY_BINDS", {})
        app.config["SQLALCHEMY_BINDS"] = {**binds, REPLICA: options}


def init_app(app: Flask) -> None:
    """Route reads to the replica when one is configured; without it, change nothing."""
    if not app.config.get("DATABASE_REPLICA_URL"):
        return
    routes = Router(app)
    app.extensions["routing"] = routes
    with app.app_context():
        from .extensions import db

        event.listen(db.engines[REPLICA], "handle_error", _replica_error)
    app.after_request(_remember_writes)
    # Lazily, on the first request: a thread started before gunicorn forks would not survive.
    app.before_request(routes.monitor.start)
