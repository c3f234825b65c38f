# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check messages bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[dev]"
	touch $(STAMP)

## Bring the whole platform up on embedded services with the demo province.
run: $(STAMP)
	$(BIN)/python -m config.run

## Run the whole test suite (starts its own Redis, Stripe-compatible server and worker).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

## Static checks: ruff, mypy (files and exclusions in pyproject.toml), import contracts.
check: $(STAMP)
	$(BIN)/ruff check .
	DJANGO_DEBUG=true $(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## Recompile translations after editing locale/*/LC_MESSAGES/django.po.
messages: $(STAMP)
	$(BIN)/python manage.py compilemessages --ignore=.venv

bench: $(STAMP)
	$(BIN)/python bench/tenancy.py

clean:
	rm -rf $(VENV) .data
