# Downline: `make run` serves the product on a demo network; `make test` runs the whole suite.
# Both set everything up first on a fresh machine (virtualenv, packages, the Neo4j launcher).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
JAR := launcher/target/neo4j-launcher-1.0.0.jar
DASHBOARD := api/static/dist/index.html
CYPHER_SHELL := launcher/cypher-shell/target/built
DEMO_DIR := var/demo
DEMO_MEMBERS ?= 10000

# Development defaults only; production sets its own secrets.
export NEO4J_PASSWORD ?= downline-dev
export DOWNLINE_JWT_SECRET ?= downline-dev-secret-not-for-production-use
# A development machine: a short DOWNLINE_JWT_SECRET is accepted (production refuses one).
export DOWNLINE_DEV ?= 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup dashboard run test lint types unit db-start db-stop bench clean

setup: $(VENV)/.installed $(JAR) $(CYPHER_SHELL) $(DASHBOARD)
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(JAR): launcher/pom.xml $(shell find launcher/src -name '*.java')
	@command -v java >/dev/null || { echo "error: java not found; install a JDK 17+"; exit 1; }
	@command -v mvn >/dev/null || { echo "error: mvn not found; install Maven"; exit 1; }
	cd launcher && mvn -q -B package -DskipTests
	touch $@

# The data team's cypher-shell (graph/cyphershell.py builds it the same way on first use).
$(CYPHER_SHELL): launcher/cypher-shell/pom.xml $(VENV)/.installed
	$(BIN)/python -c 'from graph import cyphershell; cyphershell.build()'

# The growth team's page (api/dashboard.py serves it), rebuilt when web/ changes.
dashboard: $(DASHBOARD)

$(DASHBOARD): $(addprefix web/,package.json package-lock.json index.html vite.config.ts tsconfig.json) $(shell find web/src -type f)
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js 20+"; exit 1; }
	cd web && npm ci --no-audit --no-fund && npm run build
	touch $@

db-start: setup
	@$(BIN)/downline db status >/dev/null 2>&1 || $(BIN)/downline db start

db-stop:
	$(BIN)/downline db stop

run: db-start
	@test -f $(DEMO_DIR)/orders.csv || $(BIN)/downline demo-data --members $(DEMO_MEMBERS) --seed 1 --out $(DEMO_DIR)
	$(BIN)/downline load --members $(DEMO_DIR)/members.csv --products $(DEMO_DIR)/products.csv --orders $(DEMO_DIR)/orders.csv
	$(BIN)/downline plan load plans/default.toml
	$(BIN)/downline settle --until "$$(date -u +%Y-%m-%dT%H:%M:%S+00:00)"
	$(BIN)/downline rollups refresh
	$(BIN)/downline serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/python -m pytest

test: lint types unit

# make bench SCALE=100k [WORKERS=1,2] [GROWN=1 [DAYS=30] [MUTATIONS=200]]
bench: setup
	$(BIN)/python -m bench $(if $(SCALE),--scale $(SCALE),) $(if $(WORKERS),--workers $(WORKERS),) \
		$(if $(GROWN),--grown,) $(if $(DAYS),--days $(DAYS),) $(if $(MUTATIONS),--mutations $(MUTATIONS),)

clean:
	rm -rf $(VENV) launcher/target launcher/cypher-shell/target var web/node_modules api/static/dist
