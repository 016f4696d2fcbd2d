# Developer entry points for idp. GNU make.
PY ?= python3
VENV = .venv
# Two workers: one per database (tests/conftest.py groups them), unit tests wherever free.
PYTEST_ARGS ?= -q -p no:cacheprovider -n 2 --dist loadgroup
# Lint only the source trees that exist (bench/ may not exist yet).
LINT_PATHS = $(wildcard src tests bench)

.PHONY: venv run test lint openapi bench clean

# Create / refresh the virtualenv whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Development server (defaults from the app: 127.0.0.1:8000).
run: export IDP_DEV_MODE ?= true
run: venv
	mkdir -p var
	$(VENV)/bin/idp migrate
	exec $(VENV)/bin/idp serve

# Full test suite against a throw-away PostgreSQL server.
test: venv
	scripts/ensure-chromium
	scripts/ensure-axe
	scripts/with-postgres $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Write to a temp file first so a failure does not leave a truncated openapi.yaml.
openapi: venv
	$(VENV)/bin/python -m idp.openapi_export > openapi.yaml.tmp \
		|| { rm -f openapi.yaml.tmp; exit 1; }
	mv openapi.yaml.tmp openapi.yaml

bench: venv
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) var build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis \
		openapi.yaml.tmp src/*.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
