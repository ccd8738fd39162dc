# The README's commands. Each target installs what it needs into .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test test-snowflake soak soak-order ui ui-check live-demo lint validate clean bench bench-publish bench-history dashboard dashboard-screenshot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## simulate a few days, ingest every load, print both answers
	$(BIN)/pageview-platform demo

# Dagster's SQLite event log syncs every event to disk; a RAM-backed scratch folder keeps the
# hundreds of runs the suite starts fast. Nothing in it outlives the run.
TEST_TMPDIR := $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo $${TMPDIR:-/tmp})

# loadgroup keeps test_ui_actions.py's tests on one worker, sharing one webserver and daemon.
test: $(STAMP) lint  ## the whole suite, as CI runs it (validate included, as a test), on 2 cores
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest -q -n 2 --dist loadgroup

# Every Snowflake test on fakesnow: all nine randomised oracle scenarios (`make test` runs one)
# and the repeated scenarios `make test` leaves out (conftest.py's SNOWFLAKE_EXTENDED).
test-snowflake: $(STAMP)
	TMPDIR=$(TEST_TMPDIR) ORACLE_SNOWFLAKE_MAX_EXAMPLES=9 $(BIN)/pytest -q -n 2 --dist worksteal -m snowflake

# Not in CI: every scenario of test_fault_injection.py (a load, a snapshot, a replaced load, a
# back-dated snapshot) SIGKILLed at every write point, each kill retried; prints the tally. Then
# the order/repetition property test on fresh random plans.
soak: $(STAMP) soak-order  ## kill ingests at every write point, random orders (about 25 minutes)
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest -q -s -m soak pageview_platform_tests/test_fault_injection.py

# The order/repetition property test on fresh random plans instead of CI's fixed ones (about
# 12 s a plan on 2 cores). A failure prints the plan; ORDER_SHRINK=1 shrinks it.
ORDER_SOAK_EXAMPLES ?= 50
soak-order: $(STAMP)  ## random orders, repeats and backfills against the oracle (10-15 minutes)
	TMPDIR=$(TEST_TMPDIR) ORDER_RANDOM=1 ORDER_MAX_EXAMPLES=$(ORDER_SOAK_EXAMPLES) \
	  $(BIN)/pytest -q pageview_platform_tests/test_order_property.py

lint: $(STAMP)
	$(BIN)/ruff check pageview_platform pageview_platform_tests
	$(BIN)/ruff format --check pageview_platform pageview_platform_tests

validate: $(STAMP)  ## the code location loads, as the UI will load it
	$(BIN)/dagster definitions validate -w workspace.yaml

ui: $(STAMP)  ## the Dagster UI on the same instance as the CLI runs
	$(BIN)/dagster dev -w workspace.yaml

# Needs Debian's chromium and chromium-driver (.ci/run installs them); run `make demo` first.
ui-check: $(STAMP)  ## headless Chromium screenshots of the UI's asset graph and partition bar
	$(BIN)/python -m pageview_platform.ui_check

dashboard: $(STAMP)  ## the dashboard over the published BI database, on http://127.0.0.1:8050/
	$(BIN)/python -m pageview_platform.dashboard

# Needs Debian's chromium and chromium-driver; run `make demo` first. DAY=YYYY-MM-DD picks the day.
DAY ?=
dashboard-screenshot: $(STAMP)  ## headless Chromium screenshot of the dashboard into docs/dashboard.png
	$(BIN)/python -m pageview_platform.dashboard --screenshot docs/dashboard.png $(if $(DAY),--day $(DAY))

live-demo: $(STAMP)  ## the daemon captures and processes loads by itself (about 5 minutes)
	$(BIN)/python -m pageview_platform.live_demo

# Small by default (2,000 users, 20,000 pageviews/day, 2 days: 50 loads, each a production CLI
# process of several seconds, so about 5-10 minutes). Full volume:
#   PAGEVIEW_DUCKDB_MEMORY_LIMIT=4GiB make bench \
#     BENCH_ARGS="--users 20000000 --pageviews-per-day 100000000 --days 2"
# --scale 0.5,1,2 runs the same loads at those multiples of --users and --pageviews-per-day and
# prints a scaling table; --algorithmic adds the pipeline's algorithm in plain SQL as a column.
# The scratch warehouse goes to the system's temporary folder (--workdir DIR to choose).
BENCH_ARGS ?=
bench: $(STAMP)  ## every load through production's CLI, a process each, against a plain-SQL floor; JSON in bench_results/
	$(BIN)/pageview-platform bench $(BENCH_ARGS)

# The nightly snapshot after N days of history synthesized straight into a scratch warehouse
# (5 views per user a day, 1.5% movers a night), ingested by the CLI: change detection against
# the current-postcode update. 365 days of 50,000 users synthesize in about 10 minutes.
HISTORY_ARGS ?= --users 50000 --days 30,90,365
bench-history: $(STAMP)  ## the nightly users snapshot after 30, 90 and 365 days of history
	$(BIN)/python -m pageview_platform.bench.history $(HISTORY_ARGS)

# The BI database's publish at full volume (1M postcodes every hour for 2 days, about 102M rows,
# synthesized straight into a scratch warehouse): a new file, then patches (a few minutes).
PUBLISH_ARGS ?= --postcodes 1000000 --days 2
bench-publish: $(STAMP)  ## what publishing the BI database costs at full volume: new file and patches
	$(BIN)/python -m pageview_platform.bench.publish $(PUBLISH_ARGS)

clean:
	rm -rf $(VENV) data .dagster_home
