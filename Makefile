# Single entry point: `make run` starts everything, `make test` runs the whole suite.
# Both install what is missing first (Debian packages, then the venv).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := kamailio kamailio-sqlite-modules kamailio-json-modules kamailio-extra-modules \
	kamailio-utils-modules kamailio-tls-modules sip-tester baresip chromium chromium-driver espeak-ng sox ffmpeg sqlite3 openssl \
	rtpengine-daemon nginx-light
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint format bench notebooks setup apt venv clean-data

run: setup
	$(PY) -m cli run

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy switchboard pipeline dash_app cli kamailio media benchmarks
	@# Three workers on two cores for everything but the load tests: most tests wait on a
	@# real server or a browser (the suite used 48% of two cores with two workers), so three
	@# run in the time of two (measured: 19 min 20 s -> 14 min 33 s). Then the SIPp load
	@# tests one at a time: their timing is the assertion. Both phases run; either failing
	@# fails the target.
	$(PY) -m pytest -p no:cacheprovider -n 3 --dist loadfile -m "not load" --durations=15; \
		a=$$?; \
	$(PY) -m pytest -p no:cacheprovider -m "load" --durations=15; b=$$?; \
	test $$a -eq 0 -a $$b -eq 0

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) -m benchmarks.ingest
	$(PY) -m benchmarks.history
	$(PY) -m benchmarks.rules
	$(PY) -m benchmarks.media
	$(PY) -m benchmarks.transcription
	$(PY) -m benchmarks.analytics --rows 2000000
	$(PY) -m benchmarks.voicemail_ingest

# JupyterLab on loopback with the project's kernel; notebooks read the same data dir as `make run`.
notebooks: setup
	$(PY) -m ipykernel install --sys-prefix --name switchboard --display-name "Switchboard (.venv)"
	SWITCHBOARD_DATA_DIR=$(abspath data) $(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser \
		--notebook-dir=notebooks --MappingKernelManager.default_kernel_name=switchboard

setup: apt venv

# Install only the Debian packages that are missing; `apt-get update` only when needed.
apt:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,media]"
	touch $@

clean-data:
	rm -rf data
