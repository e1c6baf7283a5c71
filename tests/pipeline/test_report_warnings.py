"""The report warns when the final MTP misses its held-out targets."""

from ionflow.mtp.schemas.fit import ErrorStats, SplitErrors
from ionflow.pipeline.report import heldout_warnings
from ionflow.pipeline.spec import MtpSpec


def _errors(energy_eV_atom: float, force_eV_A: float) -> SplitErrors:
    return SplitErrors(
        energy_per_atom=ErrorStats(mae=energy_eV_atom, rmse=energy_eV_atom, n=5),
        forces=ErrorStats(mae=force_eV_A, rmse=force_eV_A, n=100),
    )


def test_warnings_follow_the_spec_targets():
    spec = MtpSpec()
    targets = (spec.target_energy_rmse_meV_atom, spec.target_force_rmse_eV_A)
    assert heldout_warnings(_errors(0.005, 0.1), *targets) == []
    warnings = heldout_warnings(_errors(0.0766, 0.586), *targets)  # issue 14's demo after AL
    assert len(warnings) == 2
    assert warnings[0].startswith("WARNING: MTP held-out energy RMSE 76.6 meV/atom")
    assert "above the target 10 meV/atom" in warnings[0]
    assert "0.586 eV/Å" in warnings[1] and "0.2 eV/Å" in warnings[1]
    assert heldout_warnings(_errors(0.0766, 0.586), 80.0, 0.6) == []


def _learning(stop_reason: str, runs_stopped: int, n_selected: int):
    from ionflow.learning.schemas.active_learning import (
        ActiveLearningDocument,
        ActiveLearningIteration,
    )

    last = ActiveLearningIteration(
        iteration=4, n_graded=909, grade_max=13.7, grade_percentiles={}, runs_stopped=runs_stopped,
        n_candidates=22, n_already_labelled=0, n_duplicates=1, n_selected=n_selected,
        n_labelled=n_selected if stop_reason.startswith("reached") else 0,
        explore_time_s=1.0, select_time_s=1.0,
    )  # fmt: skip
    return ActiveLearningDocument.model_construct(iterations=[last], stop_reason=stop_reason)


def _warnings(active, **kwargs):
    from ionflow.pipeline.report import learning_warnings

    return learning_warnings(active.iterations, active.stop_reason, **kwargs)


def test_active_learning_capped_while_still_breaking_is_warned():
    from ionflow.pipeline.report import learning_warnings

    # the last round explores with the final potential (past the cap it only checks it)
    (warning,) = _warnings(_learning("reached max_iterations=4", 3, 11))
    assert warning.startswith("WARNING: active learning did not converge")
    assert "3 exploration run(s)" in warning and "13.7" in warning
    assert _warnings(_learning("reached max_iterations=4", 0, 11)) == []
    assert _warnings(_learning("iteration 3 selected 0 configurations", 0, 0)) == []
    # nothing new to select, yet runs still broke: its candidates were labelled before
    assert _warnings(_learning("iteration 3 selected 0 configurations", 2, 0))
    assert learning_warnings(None) == []
    # stored iteration dicts (as a study's report job receives them), another loop's name
    active = _learning("reached max_iterations=8", 1, 6)
    rows = [active.iterations[0].model_dump()]
    (gb,) = learning_warnings(rows, active.stop_reason, "grain-boundary active learning")
    assert gb.startswith("WARNING: grain-boundary active learning did not converge")
