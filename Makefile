# The two commands of the README: `make book` and `make test`.
# Both create .venv on first use and install the pinned dependencies into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= cpu

.PHONY: book test lint venv clean benchmarks

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# gpaw (extra `gos`, used by the GOS-regeneration test) is built from its sdist with our siteconfig
	GPAW_CONFIG=$(CURDIR)/scripts/gpaw_siteconfig.py $(BIN)/python -m pip install --quiet \
		--no-binary gpaw -e ".[test,gos]"
	touch $@

book: venv
	$(BIN)/eels-id book --profile $(PROFILE)

# ruff first (pinned in the `test` extra, configured in pyproject.toml): a finding fails `make test`
test: venv
	$(BIN)/ruff check
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check

# installs the `bench` extra (pyEELSMODEL, quadprog: the reference of bench_simulate.py), then runs
# every benchmark; the first one that fails stops the target with a non-zero status
benchmarks: venv
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build book/executed
