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

# every benchmark prints its numbers; BENCH=name runs one (e.g. make bench BENCH=db)
BENCH ?= db local_slurm structures_speed analysis_speed md_engine_speed dft_oracles al_selection_efficiency status_speed slurm_latency mtp_fit_quality mtp_fit_parallel
bench:
	for b in $(BENCH); do echo "== $$b"; OMP_NUM_THREADS=1 .venv/bin/python benchmarks/$$b.py || exit 1; done
