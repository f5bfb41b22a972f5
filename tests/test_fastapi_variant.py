"""The FastAPI variant as a program: no Flask in it, its outage answers, and uvicorn serving the
same tables the Flask app reads. (Its behaviour is the contract suite, run against both apps.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e_support import base_env, call, free_port

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter at the project root."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_variant_imports_no_flask_module(database_url):
    # The shared core lives in webapp.core; the package itself imports nothing, so only the core
    # (and no Flask-side module of webapp) may be loaded.
    code = (
        "import sys, json\n"
        "import fastapi_variant.main\n"
        "flask_side = lambda m: m.split('.')[0].startswith('flask')"
        " or m.split('.')[0] in ('werkzeug', 'marshmallow', 'webargs')"
        " or (m.startswith('webapp.') and not m.startswith('webapp.core'))\n"
        "print(json.dumps(sorted(m for m in sys.modules if flask_side(m))))\n"
    )
    done = run_python(code, base_env(database_url))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_an_unreachable_database_is_503_and_liveness_still_answers(database_url):
    unreachable = (
        "postgresql+psycopg://postgres@127.0.0.1:9/none"
        if "postgresql" in database_url
        else "sqlite:////nonexistent-dir/x.db"
    )
    code = (
        "import json\n"
        "from fastapi.testclient import TestClient\n"
        "from fastapi_variant.main import app\n"
        "c = TestClient(app, raise_server_exceptions=False)\n"
        "login = {'user': {'email': 'a@b.co', 'password': 'password1'}}\n"
        "replies = [c.get('/healthz'), c.get('/readyz'), c.post('/api/users/login', json=login)]\n"
        "print(json.dumps([[r.status_code, r.headers.get('retry-after'), r.json()]"
        " for r in replies]))\n"
    )
    done = run_python(code, base_env(unreachable))
    assert done.returncode == 0, done.stderr
    (live, ready, login) = json.loads(done.stdout)
    assert live == [200, None, {"status": "ok"}]
    for status, retry_after, body in (ready, login):
        assert status == 503
        assert int(retry_after) > 0
        assert body == {"errors": {"body": ["The database is unavailable; try again shortly."]}}


@pytest.fixture
def uvicorn_server(database_url, app, tmp_path):
    """The variant under uvicorn, two workers, on the test database (the Flask app's tables)."""
    port = free_port()
    env = base_env(database_url)
    log = tmp_path / "uvicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "fastapi_variant.main:app", "--port", str(port),
             "--workers", "2", "--no-access-log"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if call(port, "GET", "/healthz", timeout=2).status == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "uvicorn did not answer in time"
        time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(timeout=20)


def test_uvicorn_serves_the_tables_the_flask_app_reads(uvicorn_server, app):
    port = uvicorn_server
    user = {"username": "uvi", "email": "uvi@example.com", "password": "password123"}
    registered = call(port, "POST", "/api/users", {"user": user})
    assert registered.status == 201
    headers = {"Authorization": f"Token {registered.body['user']['token']}"}
    article = {"title": "Served by uvicorn", "description": "d", "body": "b", "tagList": ["asgi"]}
    created = call(port, "POST", "/api/articles", {"article": article}, headers)
    assert created.status == 201
    assert call(port, "GET", "/readyz").status == 200
    # The Flask app, on the same database, sees the rows the variant wrote.
    listed = app.test_client().get("/api/articles?tag=asgi").get_json()
    assert [a["slug"] for a in listed["articles"]] == [created.body["article"]["slug"]]
    assert listed["articles"][0]["author"]["username"] == "uvi"


def test_settings_resolve_as_the_flask_app_does(tmp_path):
    from fastapi_variant.settings import INSTANCE, Settings

    # A relative SQLite path lands in instance/, where Flask-SQLAlchemy puts the Flask app's.
    assert Settings(database_url="sqlite:///conduit.db").sqlalchemy_url() == (
        f"sqlite:///{INSTANCE / 'conduit.db'}"
    )
    assert Settings(database_url="postgres://u@h/db").sqlalchemy_url() == (
        "postgresql+psycopg://u@h/db"
    )
    # Outside production a missing SECRET_KEY is generated once into a file both apps read.
    development = Settings(secret_key=None, secret_key_file=str(tmp_path / "secret_key"))
    key = development.signing_key()
    assert len(key) >= 32
    assert development.signing_key() == key
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        Settings(app_env="production", secret_key=None).signing_key()
