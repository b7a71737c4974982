# Cachemere: `make run` starts the server, `make test` runs the whole suite (installing what it needs).
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
APT_PACKAGES := redis-tools redis-server redis-sentinel memcached libmemcached-tools chromium openssl iproute2 sasl2-bin nutcracker prometheus-redis-exporter
CONF ?= conf/cachemere.conf
PYTEST_ARGS ?=

.PHONY: run test drill build install deps-apt bench clean

$(VPY):
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel

# Editable install: the console script plus the Cython extensions built in place.
install: $(VPY)
	$(PIP) install -q 'Cython>=3,<4' setuptools wheel
	$(PIP) install -q --no-build-isolation -e '.[test]'
	$(MAKE) build

build: $(VPY)
	$(VPY) setup.py -q build_ext --inplace

run: install
	$(VENV)/bin/cachemere-server $(CONF)

# Debian packages the tests drive (real redis-server, redis-cli, memcached, memccapable).
deps-apt:
	@missing=""; \
	for tool in redis-server redis-cli redis-sentinel memcached memccapable chromium openssl ss saslpasswd2 nutcracker prometheus-redis-exporter; do command -v $$tool >/dev/null 2>&1 || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	    $$SUDO systemctl stop redis-server redis-sentinel memcached nutcracker prometheus-redis-exporter >/dev/null 2>&1 || true; \
	  else echo "install $(APT_PACKAGES) to run the differential tests" >&2; fi; \
	fi

# --durations: the slowest tests in the log, to keep the suite under its 12-minute budget
test: install deps-apt
	$(VENV)/bin/pytest -q -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

# Long drills (failover, psync2-style, fuzz, cluster): marked `drill`, kept out of `make test`.
drill: install deps-apt
	$(VENV)/bin/pytest -q -p no:cacheprovider -m drill $(PYTEST_ARGS)

bench: install deps-apt
	$(VPY) bench/run.py

clean:
	rm -rf build *.egg-info
	find protocol engine server replication cluster services -name '*.so' -delete -o -name '*.c' -delete
