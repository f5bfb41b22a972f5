"""The local cluster (`make cluster`), exercised through nginx: the contract, read-your-writes with
a lagging replica, an app host killed under load, the replica stopped and started under load, rate
limits shared through Redis, PgBouncer in transaction mode without prepared statements.

Selected only when CLUSTER_URL is set (.ci/run starts the cluster with REPLICA_DELAY_MS=1000 and
sets it); the tests drive the parts through bench/cluster/cluster.sh and instance/cluster/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_DIR = ROOT / "instance" / "cluster"
SCRIPT = ROOT / "bench" / "cluster" / "cluster.sh"


def cluster_settings() -> dict[str, str]:
    """What `make cluster` wrote into instance/cluster/cluster.env."""
    path = CLUSTER_DIR / "cluster.env"
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return dict(pairs)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def call(method: str, path: str, body: Any = None, token: str | None = None) -> Reply:
    """One HTTP request through nginx; network errors become status 0."""
    url = os.environ["CLUSTER_URL"].rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            raw, status, headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, headers = error.read(), error.code, dict(error.headers)
    except (urllib.error.URLError, OSError):
        return Reply(0, None, {})
    try:
        body = json.loads(raw) if raw else None
    except ValueError:  # nginx's own error pages (502 from a host that died) are HTML
        body = raw.decode(errors="replace")
    return Reply(status, body, headers)


def register(prefix: str = "c") -> dict[str, str]:
    """A new account; its user with token."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    reply = call(
        "POST",
        "/api/users",
        {"user": {"username": name, "email": f"{name}@example.com", "password": "password123"}},
    )
    assert reply.status == 201, reply.body
    return reply.body["user"]


def publish(user: dict[str, str], title: str = "Cluster article") -> Reply:
    article = {"title": title, "description": "d", "body": "b", "tagList": ["cluster"]}
    return call("POST", "/api/articles", {"article": article}, user["token"])


def cluster_sh(*args: str) -> None:
    subprocess.run(["bash", str(SCRIPT), *args], check=True, capture_output=True, timeout=120)


def bouncer_stats(port: str) -> int:
    """Transactions PgBouncer on this port has served for the conduit database."""
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{port}/pgbouncer", autocommit=True, prepare_threshold=None
    ) as conn:
        cursor = conn.cursor()
        cursor.execute("SHOW STATS")
        columns = [c.name for c in cursor.description]
        for row in cursor.fetchall():
            stats = dict(zip(columns, row, strict=True))
            if stats["database"] == "conduit":
                return int(stats["total_xact_count"])
    return 0


@dataclass
class Load:
    """A bounded mixed load: counts of statuses per kind and the acknowledged writes."""

    statuses: dict[str, Counter] = field(
        default_factory=lambda: {"read": Counter(), "write": Counter()}
    )
    timeline: list[tuple[float, str, int]] = field(default_factory=list)
    written: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status: int) -> None:
        with self.lock:
            self.statuses[kind][status] += 1
            self.timeline.append((time.monotonic(), kind, status))

    def failed_share(self, kind: str) -> float:
        counts = self.statuses[kind]
        total = sum(counts.values())
        bad = sum(n for status, n in counts.items() if status == 0 or status >= 500)
        return bad / total if total else 1.0


def run_load(
    seconds: float,
    readers: int,
    writers: int,
    during: Callable[[], None],
    max_requests: int = 4000,
) -> Load:
    """Readers and writers until `seconds` pass or `max_requests` are sent; `during` runs beside."""
    load = Load()
    users = [register("w") for _ in range(max(writers, 1))]
    deadline = time.monotonic() + seconds
    budget = iter(range(max_requests))
    budget_lock = threading.Lock()

    def more() -> bool:
        with budget_lock:
            return time.monotonic() < deadline and next(budget, None) is not None

    def reader(i: int) -> None:
        user = users[i % len(users)]
        while more():
            path = "/api/articles?limit=5" if i % 2 else "/api/tags"
            load.record(
                "read", call("GET", path, token=user["token"] if i % 3 == 0 else None).status
            )

    def writer(i: int) -> None:
        user = users[i]
        while more():
            reply = publish(user, f"Load {uuid.uuid4().hex[:8]}")
            load.record("write", reply.status)
            if reply.status == 201:
                with load.lock:
                    load.written.append((reply.body["article"]["slug"], user))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    threads += [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    during()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return load


def test_contract_through_nginx() -> None:
    user = register()
    assert set(user) >= {"email", "token", "username", "bio", "image"}
    login = call(
        "POST",
        "/api/users/login",
        {"user": {"email": user["email"], "password": "password123"}},
    )
    assert login.status == 200
    assert login.body["user"]["username"] == user["username"]
    me = call("GET", "/api/user", token=login.body["user"]["token"])
    assert me.status == 200
    assert me.body["user"]["email"] == user["email"]

    created = publish(user, "Through nginx")
    assert created.status == 201
    slug = created.body["article"]["slug"]
    listed = call("GET", f"/api/articles?author={user['username']}", token=user["token"])
    assert listed.status == 200
    assert listed.body["articlesCount"] == 1
    assert listed.body["articles"][0]["slug"] == slug
    assert call("GET", "/api/tags").status == 200
    # As the user: an anonymous reader may still be on a replica that has not replayed the account.
    profile = call("GET", f"/api/profiles/{user['username']}", token=user["token"])
    assert profile.status == 200
    assert profile.body["profile"]["following"] is False
    missing = call("GET", "/api/articles/no-such-article")
    assert missing.status == 404
    assert missing.body == {"errors": {"body": [missing.body["errors"]["body"][0]]}}
    anonymous = call(
        "POST", "/api/articles", {"article": {"title": "t", "description": "d", "body": "b"}}
    )
    assert anonymous.status == 401


def test_requests_are_balanced_over_every_host() -> None:
    hosts = int(cluster_settings()["HOSTS"])
    upstreams = {call("GET", "/api/tags").headers.get("X-Upstream") for _ in range(4 * hosts)}
    assert len(upstreams) == hosts


def test_a_users_writes_are_visible_to_that_user_at_once_while_the_replica_lags() -> None:
    assert int(cluster_settings()["REPLICA_DELAY_MS"]) >= 1000, "start with REPLICA_DELAY_MS=1000"
    writer, other = register("ryw"), register("other")
    stale_for_others = 0
    for round_ in range(3):
        created = publish(writer, f"Fresh {round_}")
        assert created.status == 201
        slug = created.body["article"]["slug"]
        # Others read the replica, which has not replayed the commit yet: proof it lags.
        stale_for_others += call("GET", f"/api/articles/{slug}").status == 404
        for _ in range(3):  # each on the next host in turn
            seen = call("GET", f"/api/articles/{slug}", token=writer["token"])
            assert seen.status == 200, seen.body

        edited = call(
            "PUT",
            f"/api/articles/{slug}",
            {"article": {"body": f"Edited {round_}"}},
            writer["token"],
        )
        assert edited.status == 200
        slug = edited.body["article"]["slug"]
        for _ in range(3):
            seen = call("GET", f"/api/articles/{slug}", token=writer["token"])
            assert seen.body["article"]["body"] == f"Edited {round_}"

        assert call("POST", f"/api/articles/{slug}/favorite", token=writer["token"]).status == 200
        for _ in range(3):
            seen = call("GET", f"/api/articles/{slug}", token=writer["token"]).body["article"]
            assert seen["favorited"] is True
            assert seen["favoritesCount"] == 1

        comment = call(
            "POST",
            f"/api/articles/{slug}/comments",
            {"comment": {"body": f"Comment {round_}"}},
            writer["token"],
        )
        assert comment.status == 200
        for _ in range(3):
            comments = call("GET", f"/api/articles/{slug}/comments", token=writer["token"])
            assert [c["body"] for c in comments.body["comments"]] == [f"Comment {round_}"]
    assert stale_for_others >= 1
    # And other readers catch up once the delay has passed.
    time.sleep(1.5)
    assert call("GET", f"/api/articles/{slug}", token=other["token"]).status == 200


@pytest.fixture
def host_two() -> Iterator[Path]:
    """App host 2's pid file; the host is started again afterwards."""
    pid_file = CLUSTER_DIR / "app-2.pid"
    assert pid_file.exists()
    yield pid_file
    cluster_sh("host-start", "2")


def test_killing_one_host_under_load_loses_no_acknowledged_write(host_two: Path) -> None:
    killed_at: list[float] = []

    def kill_host() -> None:
        time.sleep(2)
        # The whole host at once, master and workers, as when a machine dies.
        os.killpg(int(host_two.read_text()), signal.SIGKILL)
        killed_at.append(time.monotonic())

    load = run_load(seconds=8, readers=4, writers=2, during=kill_host)
    reads, writes = load.statuses["read"], load.statuses["write"]
    print(f"\nSIGKILL of host 2: reads {dict(reads)}, writes {dict(writes)}")
    shares = {kind: f"{load.failed_share(kind):.2%}" for kind in ("read", "write")}
    print(f"failed share: {shares}")
    assert sum(reads.values()) > 50
    assert load.failed_share("read") <= 0.02
    assert load.failed_share("write") <= 0.10
    after = [status for t, kind, status in load.timeline if kind == "read" and t > killed_at[0] + 1]
    assert after
    assert all(status == 200 for status in after)
    # Every acknowledged write is there, read back by its author.
    for slug, user in load.written:
        assert call("GET", f"/api/articles/{slug}", token=user["token"]).status == 200, slug


def test_replica_stopped_and_started_under_load_fails_no_read() -> None:
    settings = cluster_settings()
    before = bouncer_stats(settings["BOUNCER_REPLICA_PORT"])

    def bounce_replica() -> None:
        time.sleep(2)
        cluster_sh("replica-stop")
        time.sleep(4)
        cluster_sh("replica-start")

    try:
        load = run_load(seconds=10, readers=4, writers=1, during=bounce_replica)
    finally:
        cluster_sh("replica-start")
    reads = load.statuses["read"]
    print(f"\nreplica stop/start: reads {dict(reads)}, writes {dict(load.statuses['write'])}")
    assert sum(reads.values()) > 50
    assert set(reads) == {200}
    # Reads return to the replica once it is back.
    time.sleep(2)
    resumed = bouncer_stats(settings["BOUNCER_REPLICA_PORT"])
    for _ in range(30):
        assert call("GET", "/api/tags").status == 200
    assert bouncer_stats(settings["BOUNCER_REPLICA_PORT"]) > resumed >= before


def test_login_rate_limit_is_shared_by_every_host() -> None:
    # RATELIMIT_LOGIN_PER_ACCOUNT is "5 per minute" in the cluster (bench/cluster/cluster.sh).
    user = register("limited")
    attempt = {"user": {"email": user["email"], "password": "wrong-password"}}
    replies = [call("POST", "/api/users/login", attempt) for _ in range(6)]
    hosts = {reply.headers.get("X-Upstream") for reply in replies}
    assert len(hosts) > 1  # one host alone could not have counted them all
    assert all(reply.status in (401, 422) for reply in replies[:5])
    assert replies[5].status == 429
    assert int(replies[5].headers["Retry-After"]) > 0


def test_pgbouncer_runs_transaction_mode_and_the_app_prepares_nothing() -> None:
    settings = cluster_settings()
    for port in (settings["BOUNCER_PRIMARY_PORT"], settings["BOUNCER_REPLICA_PORT"]):
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/pgbouncer",
            autocommit=True,
            prepare_threshold=None,
        ) as conn:
            config = {row[0]: row[1] for row in conn.execute("SHOW CONFIG").fetchall()}
        assert config["pool_mode"] == "transaction"
    user = register("pool")
    # Far more identical statements per pooled connection than psycopg's prepare threshold (5):
    # a prepared statement would be missing on the next server connection PgBouncer hands out.
    for _ in range(60):
        assert call("GET", "/api/user", token=user["token"]).status == 200
        assert call("GET", "/api/articles?tag=cluster&limit=3").status == 200
