# Two commands matter: `make run` serves the API, `make test` runs the suite. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export FLASK_APP := wsgi.py

.PHONY: run test lint format migrate upgrade seed bench clean cluster cluster-stop

$(BIN)/activate: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

run: $(BIN)/activate
	$(BIN)/flask db upgrade
	HOST=127.0.0.1 PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(BIN)/activate
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/activate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/activate
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Load benchmark on PostgreSQL with wrk (apt-get install wrk); flags: BENCH_ARGS="--help".
bench: $(BIN)/activate
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Local multi-host topology under instance/cluster/ (bench/cluster/cluster.sh, run as root):
# primary + streaming replica, PgBouncer, Redis, HOSTS (3) app hosts, nginx on 127.0.0.1:PORT (8080).
# REPLICA_DELAY_MS delays the replica's replay. `make cluster-stop` stops every part.
cluster: $(BIN)/activate
	bench/cluster/cluster.sh up

cluster-stop:
	bench/cluster/cluster.sh down

migrate: $(BIN)/activate
	$(BIN)/flask db migrate -m "$(m)"

upgrade: $(BIN)/activate
	$(BIN)/flask db upgrade

seed: $(BIN)/activate
	$(BIN)/flask seed $(SEED_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
