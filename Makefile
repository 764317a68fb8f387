# Gongkai 公开 — make help lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := catalog request stats
ROLE ?= admin
ORGAN ?=
BACKUP_DIR ?= backups/latest

.DEFAULT_GOAL := help
.PHONY: help install run migrate seed test openapi token lint fmt bench mutation clean backup restore

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

install: $(VENV)/.installed ## Create .venv and install pinned dependencies

migrate: install ## Apply every service's migrations (SQLite files in data/ unless <SERVICE>_DATABASE_URL is set)
	@for s in $(SERVICES); do $(VENV)/bin/alembic -n $$s upgrade head || exit 1; done

seed: migrate ## Load demo organs, the seed documents and demo tokens (idempotent)
	$(PY) -m catalog_service.seed
	$(PY) scripts/demo_tokens.py

run: seed ## Start all four services (gateway on :8000) with demo data; Ctrl-C stops them
	$(PY) scripts/run_all.py

test: install ## Run the whole suite on SQLite, then on PostgreSQL (TEST_POSTGRES_URL or a local PostgreSQL 15)
	scripts/test.sh $(ARGS)

backup: install ## Back up every database and the attachments into BACKUP_DIR (pg_dump / SQLite backup + files)
	$(PY) scripts/backup.py backup $(BACKUP_DIR)

restore: install ## Restore BACKUP_DIR into the (fresh, empty) databases and attachment dir the settings name
	$(PY) scripts/backup.py restore $(BACKUP_DIR)

openapi: install ## Write openapi/{catalog,request,stats,gateway}.json from the apps
	$(PY) -m gateway.openapi

token: install ## Mint a development token: make token ROLE=drafter ORGAN=<organ code>
	@$(PY) scripts/mint_token.py --role "$(ROLE)" --organ "$(ORGAN)"

lint: install ## Ruff lint
	$(VENV)/bin/ruff check .

fmt: install ## Ruff autofix
	$(VENV)/bin/ruff check --fix .

bench: install ## Benchmarks with the shared baselines in the same run; results in bench-results/
	scripts/bench.sh

mutation: install ## Mutation testing (mutmut) of the rule modules on SQLite, not in CI; report in bench-results/
	$(PY) scripts/mutation.py

clean: ## Remove the SQLite databases and demo tokens in data/
	rm -rf data
