# Two commands matter: `make run` serves the API, `make test` runs the suite. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export FLASK_APP := wsgi.py

.PHONY: run test lint format migrate upgrade bench clean

$(BIN)/activate: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

run: $(BIN)/activate
	$(BIN)/flask db upgrade
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) wsgi:app

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

migrate: $(BIN)/activate
	$(BIN)/flask db migrate -m "$(m)"

upgrade: $(BIN)/activate
	$(BIN)/flask db upgrade

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
