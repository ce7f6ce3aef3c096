.DEFAULT_GOAL := help
SHELL := /bin/bash
UV := uv run --frozen

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

bootstrap: ## Install what is missing (system packages, uv, the Python environment)
	@scripts/bootstrap.sh

run: bootstrap ## Run the whole platform, the meeting simulator and a demo account in the foreground
	@$(UV) mb-devstack run --dir var/dev

test: bootstrap ## Run the whole test suite on the real stack
	@$(UV) pytest

lint: bootstrap ## Lint the code
	@$(UV) ruff check .

bench: bootstrap ## Measure join time, completion latency, CPU and memory of one bot
	@$(UV) python benchmarks/bot_benchmark.py

bench-live: bootstrap ## Four bots at once streaming their audio with live transcripts: latencies, CPU, skipped audio
	@$(UV) python benchmarks/bot_benchmark.py --bots 4 --streaming --live --meetings 120

chaos: bootstrap ## Hurt the platform while bots run (kill -9, NATS, PostgreSQL, bad endpoints); print a table
	@$(UV) python chaos/chaos.py

.PHONY: help bootstrap run test lint bench bench-live chaos
