"""The shape of an active-learning iteration: one exploration job per cell and run, then one
selection job that takes all their outputs (nothing is run here)."""

from jobflow import OutputReference
from tests.fixtures.dft import make_li2s

from ionflow.learning.explore import AseMdExplorer
from ionflow.learning.flows.active_learning import ActiveLearningMaker


def _function_name(job) -> str:
    return getattr(job.function, "__name__", "")


def test_one_exploration_job_per_cell_and_run_then_one_selection():
    cells = [make_li2s(), make_li2s(primitive=True)]
    maker = ActiveLearningMaker(
        explorer=AseMdExplorer(seed=7), temperatures=(600.0, 900.0, 1200.0), runs_per_temperature=3
    )
    flow = maker.make(cells, labelled_set=None, mtp="mtp text")
    *explorations, selection = flow.jobs
    assert [_function_name(j) for j in flow.jobs] == ["explore"] * 6 + ["select"]
    assert [j.name for j in explorations[:4]] == [
        "explore c0 run 0 (iteration 1)",
        "explore c0 run 1 (iteration 1)",
        "explore c0 run 2 (iteration 1)",
        "explore c1 run 0 (iteration 1)",
    ]
    assert selection.name == "select (iteration 1)"
    # each job explores one cell (every temperature) as run k of that cell
    runs = [(j.function_args[0], j.function_args[3], j.function_args[4]) for j in explorations]
    assert [(index, run) for _, index, run in runs] == [(c, r) for c in range(2) for r in range(3)]
    assert all(structure is cells[index] for structure, index, _ in runs)
    # the selection waits for every exploration's output, and is the loop's output
    explored = selection.function_args[0]
    assert all(isinstance(ref, OutputReference) for ref in explored)
    assert [ref.uuid for ref in explored] == [j.uuid for j in explorations]
    assert flow.output.uuid == selection.uuid


def test_explorations_stop_after_max_iterations_and_a_fit_comes_first():
    maker = ActiveLearningMaker(runs_per_temperature=2, max_iterations=1)
    flow = maker.make([make_li2s()], labelled_set=None, mtp=None)  # no potential: fit first
    assert [_function_name(j) for j in flow.jobs] == ["make", "explore", "explore", "select"]
    # past max_iterations the last refit's potential is still explored: its selection
    # job records that round and closes the loop
    closing = maker.iteration_jobs([make_li2s()], None, "mtp", [{}], [], {}, None)
    assert [_function_name(j) for j in closing] == ["explore", "explore", "select"]
