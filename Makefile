# Two commands matter: `make run` serves the API, `make test` runs the suite. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export FLASK_APP := wsgi.py

.PHONY: run run-fastapi test lint format migrate upgrade seed bench clean

$(BIN)/activate: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

run: $(BIN)/activate
	$(BIN)/flask db upgrade
	HOST=127.0.0.1 PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# The FastAPI variant's packages, on top of the runtime: only the targets that run it install them.
FASTAPI_STAMP := $(VENV)/.fastapi-installed
$(FASTAPI_STAMP): $(BIN)/activate requirements-fastapi.txt
	$(BIN)/pip install --quiet --require-hashes -r requirements-fastapi.txt
	touch $(FASTAPI_STAMP)

# The FastAPI variant on the same database (the schema comes from the same migrations).
run-fastapi: $(FASTAPI_STAMP)
	$(BIN)/flask db upgrade
	$(BIN)/uvicorn fastapi_variant.main:app --host 127.0.0.1 --port $${PORT:-8001} --workers $${WEB_CONCURRENCY:-2}

test: $(BIN)/activate $(FASTAPI_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/activate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/activate
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Load benchmark on PostgreSQL with wrk (apt-get install wrk); flags: BENCH_ARGS="--help".
bench: $(BIN)/activate $(FASTAPI_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

migrate: $(BIN)/activate
	$(BIN)/flask db migrate -m "$(m)"

upgrade: $(BIN)/activate
	$(BIN)/flask db upgrade

seed: $(BIN)/activate
	$(BIN)/flask seed $(SEED_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
