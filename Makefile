# Two entry points for a fresh machine with Python 3.11:
#   make run   - install into .venv, migrate, seed the demo if the database is empty, serve
#   make test  - install into .venv (with dev tools) and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# `make run` serves a demo database (demo accounts, named on the login page); production
# runs with PLACEMENT_ENV=production (the default), which refuses active demo accounts.
PLACEMENT_ENV ?= demo
FLASK := PLACEMENT_ENV=$(PLACEMENT_ENV) $(BIN)/flask --app placement
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install db serve serve-prod lint bench clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# A random secret key for this checkout, written once (the app refuses the development key).
instance/config.py:
	mkdir -p instance
	$(PYTHON) -c "import secrets; print(f'SECRET_KEY = {secrets.token_hex(32)!r}')" > $@

db: install instance/config.py
	$(FLASK) db upgrade
	$(FLASK) seed-demo

serve: install instance/config.py
	$(FLASK) run --host $(HOST) --port $(PORT)

run: db serve

# The production shape on one machine: migrations once, then gunicorn (several workers,
# deploy/gunicorn.conf.py), the scheduler and the plan worker; Ctrl-C stops all three.
# Set PLACEMENT_ENV=production (and a PostgreSQL URI) for the real thing: docs/production.md.
serve-prod: install instance/config.py
	PLACEMENT_ENV=$(PLACEMENT_ENV) BIN=$(BIN) scripts/serve-prod

test: install
	$(BIN)/python -m pytest -n auto
	# The load benchmark's short mode on both databases: it fails on any 5xx answer or
	# when occupancy, open stays and stay overlaps disagree afterwards.
	$(BIN)/python benchmarks/bench_load.py --short
	$(BIN)/python benchmarks/bench_load.py --short --postgres

lint: install
	$(BIN)/ruff check placement solver tests benchmarks
	$(BIN)/ruff format --check placement solver tests benchmarks

# The English catalogue (German is the source language; babel.cfg says where messages are):
# extract them into messages.pot, merge it into each language's messages.po (new and changed
# messages empty: Babel's fuzzy guesses matched unrelated texts), compile the .mo files
# (committed, so that a fresh clone and the wheel carry them), then list what still needs a
# translation. Translate those entries in placement/translations/<lang>/LC_MESSAGES/messages.po
# and run this again.
CATALOGUES := placement/translations
translations: install
	$(BIN)/pybabel extract -F babel.cfg --project Platzplan --version 0.1.0 \
		--no-wrap --sort-by-file --add-location=file -o $(CATALOGUES)/messages.pot .
	$(BIN)/pybabel update -i $(CATALOGUES)/messages.pot -d $(CATALOGUES) -l en \
		--init-missing --no-fuzzy-matching --no-wrap --ignore-obsolete
	$(BIN)/pybabel compile -d $(CATALOGUES) --statistics
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_i18n.py -k catalogue

# Benchmarks print figures (medians); they are not tests.
bench: install
	$(BIN)/python -m solver.bench --repeat 3
	$(BIN)/python benchmarks/bench_pages.py
	$(BIN)/python benchmarks/bench_plans.py
	$(BIN)/python benchmarks/bench_forecast.py --backtest-weeks 26

# The load benchmark (not a test): 50 clients against gunicorn for 60 s, then checks of the
# data; exit 1 on a 5xx or a failed check. ARGS=--short is the quick one for CI;
# ARGS="--database-url postgresql+psycopg://..." runs on an empty PostgreSQL database.
.PHONY: bench-load
bench-load: install
	$(BIN)/python benchmarks/bench_load.py $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
