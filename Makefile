# Two commands matter: `make run` serves the API, `make test` runs the suite. Both install what they need:
# `make run` the runtime only (requirements.txt), `make test` and `make lint` the dev tools on top.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export FLASK_APP := wsgi.py

# The lock tool, pinned; `make lock` installs it into .venv by itself (no lock file needed for it).
UV := uv==0.13.8
# Resolved for every platform and Python 3.11+, with the hash of every distribution.
COMPILE := $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock" $(LOCK_ARGS)

.PHONY: run run-fastapi test lint typecheck format lock migrate upgrade seed bench clean cluster cluster-stop

# --no-compile: Python compiles just the modules the app imports, on first import, instead of pip
# compiling every file of every package up front (seconds of CPU on a cold `make run`).
$(VENV)/runtime.stamp: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-compile --require-hashes -r requirements.txt
	touch $@

$(VENV)/dev.stamp: requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt -r requirements-dev.txt
	touch $(VENV)/runtime.stamp $@

run: $(VENV)/runtime.stamp
	$(BIN)/flask db upgrade
	HOST=127.0.0.1 PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# The FastAPI variant's packages, on top of the runtime: only the targets that run it install them.
$(VENV)/fastapi.stamp: $(VENV)/runtime.stamp requirements-fastapi.txt
	$(BIN)/pip install --quiet --require-hashes -r requirements-fastapi.txt
	touch $@

# The FastAPI variant on the same database (the schema comes from the same migrations).
run-fastapi: $(VENV)/fastapi.stamp
	$(BIN)/flask db upgrade
	$(BIN)/uvicorn fastapi_variant.main:app --host 127.0.0.1 --port $${PORT:-8001} --workers $${WEB_CONCURRENCY:-2}

# The contract suite runs against both apps, so the tests need the variant's packages too.
test: $(VENV)/dev.stamp $(VENV)/fastapi.stamp
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/dev.stamp $(VENV)/fastapi.stamp
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: $(VENV)/dev.stamp $(VENV)/fastapi.stamp
	$(BIN)/mypy

format: $(VENV)/dev.stamp
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate requirements.txt, requirements-dev.txt and requirements-fastapi.txt from their .in
# files, keeping every pin that still fits; LOCK_ARGS="--upgrade" (or "--upgrade-package NAME") moves pins forward.
lock:
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(UV)
	$(COMPILE) requirements.in -o requirements.txt
	$(COMPILE) requirements-dev.in -o requirements-dev.txt
	$(COMPILE) requirements-fastapi.in -o requirements-fastapi.txt

# Load benchmark on PostgreSQL with wrk (apt-get install wrk); flags: BENCH_ARGS="--help".
bench: $(VENV)/fastapi.stamp
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Local multi-host topology under instance/cluster/ (bench/cluster/cluster.sh, run as root):
# primary + streaming replica, PgBouncer, Redis, HOSTS (3) app hosts, nginx on 127.0.0.1:PORT (8080).
# REPLICA_DELAY_MS delays the replica's replay. `make cluster-stop` stops every part.
cluster: $(VENV)/runtime.stamp
	bench/cluster/cluster.sh up

cluster-stop:
	bench/cluster/cluster.sh down

migrate: $(VENV)/runtime.stamp
	$(BIN)/flask db migrate -m "$(m)"

upgrade: $(VENV)/runtime.stamp
	$(BIN)/flask db upgrade

seed: $(VENV)/runtime.stamp
	$(BIN)/flask seed $(SEED_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .coverage htmlcov
