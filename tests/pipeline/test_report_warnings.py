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
