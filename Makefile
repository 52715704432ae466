# The two commands of the README: `make book` and `make test`.
# Both create .venv on first use and install the pinned dependencies into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= cpu

.PHONY: book test lint venv clean benchmarks lab

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

# JupyterLab on the notebooks (LAB_ROOT) with this venv's `python3` kernel, which ensure_kernel()
# installs into the venv when missing; offline (no update check, no news feed). JupyterLab opens
# your default browser when there is one and always prints the URL with its token. More options
# with LAB_FLAGS, e.g. on a remote node: make lab LAB_FLAGS="--no-browser --port=8890"
# (--allow-root is added when run as root, as in a container).
LAB_ROOT ?= notebooks
LAB_FLAGS ?=
lab: venv
	$(BIN)/python -c "from eels_helpers.book.runner import ensure_kernel; print('Jupyter kernel python3:', ensure_kernel())"
	$(BIN)/jupyter-lab --ServerApp.root_dir="$(LAB_ROOT)" \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate --LabApp.news_url=None \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_FLAGS)

lint: venv
	$(BIN)/ruff check

# installs the `bench` extra (pyEELSMODEL, quadprog: the reference of bench_simulate.py), then runs
# every benchmark; the first one that fails stops the target with a non-zero status
benchmarks: venv
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build book/executed
