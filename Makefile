# Tend developer commands. `make demo` and `make test` work on a fresh clone with only
# python3.11 installed: the virtualenv is created and (re)installed when pyproject.toml changes.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint format screenshots worker beat clean

help:
	@echo "make demo         seed the SQLite demo and serve it on http://127.0.0.1:8000"
	@echo "make test         run the test suite, ruff and the migrations check (DATABASE_URL honoured)"
	@echo "make lint         ruff check + ruff format --check"
	@echo "make screenshots  regenerate docs/screenshots/*.png with Playwright + Debian's chromium"
	@echo "make worker       run a Celery worker (needs REDIS_URL)"
	@echo "make beat         run Celery beat (needs REDIS_URL)"
	@echo "make bench        every benchmark at a small size, one summary table (PostgreSQL + Redis; see benchmarks/RESULTS.md)"

venv: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: venv
	DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DEBUG=1 $(BIN)/python manage.py seed_demo
	@echo "Serving the demo on http://127.0.0.1:8000/ (Ctrl-C to stop)"
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

test: venv
	$(BIN)/pytest -q
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check --fail-level WARNING

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

screenshots: venv
	$(BIN)/python scripts/screenshots.py

worker: venv
	$(BIN)/celery -A config worker --loglevel=INFO

beat: venv
	$(BIN)/celery -A config beat --loglevel=INFO

# Drops and re-creates tend_bench_small on 127.0.0.1 and uses Redis db 13: override with
# BENCH_DATABASE_URL=postgres://user@host:port/name and BENCH_REDIS_URL=redis://host:port/N.
.PHONY: bench
bench: venv
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py --fraction 0.01

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
