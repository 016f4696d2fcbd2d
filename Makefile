# Developer entry points for idp. GNU make.
PY ?= python3
VENV = .venv
# Two workers: one per database (tests/conftest.py groups them), unit tests wherever free.
PYTEST_ARGS ?= -q -p no:cacheprovider -n 2 --dist loadgroup
# Lint only the source trees that exist (bench/ may not exist yet).
LINT_PATHS = $(wildcard src tests bench)

.PHONY: venv run test lint openapi settings-doc bench clean

# Create / refresh the virtualenv whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Development server at http://127.0.0.1:8000, or at PORT (`make run PORT=8080`): the issuer
# follows the port unless IDP_ISSUER is set, and without PORT `idp serve` listens on the
# issuer's port, so the two always agree. Prints the URL to open once it is ready.
PORT ?=
run: export IDP_DEV_MODE ?= true
run: export IDP_ISSUER ?= http://127.0.0.1:$(or $(PORT),8000)
run: venv
	mkdir -p var
	$(VENV)/bin/idp migrate
	exec $(VENV)/bin/idp serve $(if $(PORT),--port $(PORT))

# Full test suite against a throw-away PostgreSQL server.
test: venv
	scripts/ensure-chromium
	scripts/ensure-gost-engine
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

# The settings reference, generated from the settings model and the `idp` command's parser.
settings-doc: venv
	$(VENV)/bin/python -m idp.settings_doc > docs/settings.md.tmp \
		|| { rm -f docs/settings.md.tmp; exit 1; }
	mv docs/settings.md.tmp docs/settings.md

bench: venv
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) var build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis \
		openapi.yaml.tmp docs/settings.md.tmp src/*.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
