"""Upconversion, the (level, R_cut) scan with real motep fits, recommendation and plots."""

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from ase.build import bulk
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from tests.fixtures.mtp import LI2S_SPECIES

from ionflow.errors import IonflowInputError
from ionflow.mtp import motep_api
from ionflow.mtp.fitting import upconvert_mtp_text
from ionflow.mtp.flows.hyper_scan import MtpHyperScanMaker
from ionflow.mtp.hyper_scan import recommend
from ionflow.mtp.jobs.fit import MtpFitMaker
from ionflow.mtp.plotting import plot_error_vs_cost, plot_parity
from ionflow.mtp.schemas.fit import ErrorStats, ParityData, SplitErrors
from ionflow.mtp.schemas.hyper_scan import HyperScanPoint, MtpHyperScanDocument
from ionflow.mtp.templates import untrained_mtp_text


def _read(text: str, tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_text(text)
    return motep_api.read_potential(path, LI2S_SPECIES)


@pytest.fixture
def random_level8(tmp_path) -> str:
    """A level-8 Li-S potential with random (non-zero) coefficients, as .mtp text."""
    data = _read(untrained_mtp_text(8, 2, 1.9, 5.0, 8), tmp_path, "l8.mtp")
    rng = np.random.default_rng(7)
    data.radial_coeffs = rng.normal(0, 0.1, (2, 2, data.radial_funcs_count, 8))
    data.moment_coeffs = rng.normal(0, 0.1, data.alpha_scalar_moments)
    data.species_coeffs = rng.normal(0, 1, 2)
    return motep_api.write_potential(tmp_path / "l8_random.mtp", data).read_text()


@pytest.mark.parametrize("level", [10, 12, 16])
def test_upconverted_potential_predicts_the_same_energies(random_level8, tmp_path, level):
    atoms = bulk("SLi2", "fluorite", a=5.6, cubic=True)
    atoms.rattle(0.15, seed=2)
    lower = _read(random_level8, tmp_path, "lower.mtp")
    higher = _read(upconvert_mtp_text(random_level8, level, LI2S_SPECIES), tmp_path, "up.mtp")
    assert higher.alpha_scalar_moments > lower.alpha_scalar_moments
    assert float(higher.radial_basis.max) == float(lower.radial_basis.max)
    before, after = motep_api.predict(lower, [atoms])[0], motep_api.predict(higher, [atoms])[0]
    assert abs(before["energy"]) > 1.0  # a non-trivial potential
    assert after["energy"] == pytest.approx(before["energy"], abs=1e-8)
    np.testing.assert_allclose(after["forces"], before["forces"], atol=1e-8)


def test_upconvert_same_level_is_identity_and_refuses_downconversion(random_level8):
    assert upconvert_mtp_text(random_level8, 8, LI2S_SPECIES) == random_level8
    level10 = upconvert_mtp_text(random_level8, 10, LI2S_SPECIES)
    with pytest.raises(IonflowInputError, match="level-8"):
        upconvert_mtp_text(level10, 8, LI2S_SPECIES)


def _point(level: float, r_cut: float, force_rmse: float, cost: float) -> HyperScanPoint:
    stats = ErrorStats(mae=force_rmse * 0.8, rmse=force_rmse, n=9)
    return HyperScanPoint(
        level=level, r_cut=r_cut, max_iter=1, n_train=9, n_validation=1,
        validation_errors=SplitErrors(energy_per_atom=stats, forces=stats),
        fit_time_s=1.0, cost_us_per_atom_step=cost,
    )  # fmt: skip


def test_recommend_cheapest_within_tolerance_of_best(tmp_path):
    points = [
        _point(8, 5.0, 0.110, 30.0),
        _point(10, 5.0, 0.104, 40.0),
        _point(12, 5.0, 0.100, 60.0),
        _point(8, 6.0, 0.108, 45.0),
    ]
    recommended, best = recommend(points, tolerance=0.05)
    assert best.level == 12
    assert (recommended.level, recommended.r_cut) == (10, 5.0)  # 0.110 is > 5 % worse
    assert recommend(points, tolerance=0.2)[0].cost_us_per_atom_step == 30.0
    assert recommend(points, tolerance=0.0)[0] is best
    with pytest.raises(IonflowInputError):
        recommend(points, metric="stress")
    png = plot_error_vs_cost(points, tmp_path / "scan.png", recommended)
    assert matplotlib.image.imread(png).shape[1] > 600


def test_parity_plot_png(tmp_path):
    rng = np.random.default_rng(0)
    e = rng.normal(-4.0, 0.01, 20)
    f = rng.normal(0, 1.0, 300)
    parity = ParityData(
        energy_per_atom_ref=e.tolist(),
        energy_per_atom_mtp=(e + 0.002).tolist(),
        forces_ref=f.tolist(),
        forces_mtp=(f * 1.05).tolist(),
    )
    png = plot_parity(parity.model_dump(), tmp_path / "parity.png", title="test")
    image = matplotlib.image.imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert image.std() > 0.01  # not a blank canvas


@pytest.mark.slow
def test_tiny_scan_upconverts_and_recommends(li2s_labelled_set, tmp_path):
    maker = MtpHyperScanMaker(
        levels=(10, 8),
        r_cuts=(4.5, 5.0),
        fit_maker=MtpFitMaker(max_iter=60, engine="motep"),
        refit_max_iter=30,
    )
    flow = maker.make(li2s_labelled_set)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(flow, store=store, root_dir=tmp_path, ensure_success=True)
    found = store.query_one({"output.recommended": {"$exists": True}}, load=True)
    doc = MtpHyperScanDocument(**found["output"])
    print([(p.level, p.r_cut, p.validation_errors.forces.rmse, p.cost_us_per_atom_step,
            p.fit_time_s) for p in doc.points])  # fmt: skip
    grid = [(p.level, p.r_cut) for p in doc.points]
    assert sorted(grid) == [(8, 4.5), (8, 5.0), (10, 4.5), (10, 5.0)]
    for p in doc.points:
        assert p.upconverted_from_level == (8 if p.level == 10 else None)
        assert p.max_iter == (30 if p.level == 10 else 60)
        assert p.n_validation == 3 and p.cost_us_per_atom_step > 0
        assert p.validation_errors.forces.rmse < 0.5  # fitted (unfitted: > 1 eV/Å)
        lower = next(q for q in doc.points if q.r_cut == p.r_cut and q.level == 8)
        # started from the fitted level 8, the level-10 refit does not lose its accuracy
        assert p.validation_errors.forces.rmse <= 1.1 * lower.validation_errors.forces.rmse
    best = min(p.validation_errors.forces.rmse for p in doc.points)
    assert doc.recommended.validation_errors.forces.rmse <= 1.1 * best
    assert "radial_coeffs" in doc.recommended_mtp
    assert "radial_coeffs" not in str(store.query_one({"output.recommended": {"$exists": True}}))
    assert Path(doc.plot_png).stat().st_size > 10_000
