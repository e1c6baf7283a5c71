# Convenience targets; the README's two commands are scripts/demo.sh and scripts/test.sh.
.PHONY: demo test test-fast lint bench

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

test-fast:
	bash scripts/test.sh -m "not slow"

lint:
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks

bench:
	.venv/bin/python -m benchmarks
