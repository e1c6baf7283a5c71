"""Untrained level-N MTPs generated from the basis definition."""

from pathlib import Path

import maml
import numpy as np
import pytest
from ase.build import bulk
from motep.calculator import make_calculator
from motep.io.mlip.mtp import read_mtp
from scipy.spatial.transform import Rotation

from ionflow.errors import IonflowInputError
from ionflow.mtp.templates import generate_basis, untrained_mtp_text

MAML_LEVEL8 = Path(maml.__file__).parent / "apps/pes/params/08g.mtp"
# a level-10 potential trained by MLIP (shared reference data beside the repository)
MLIP_LEVEL10 = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "mtp-grades-mlip3"
) / "pot.mtp"


def _scalar_moment_values(path: Path, atoms, species=(3, 16)) -> np.ndarray:
    """Energy of each scalar basis function alone, same random radial part."""
    data = read_mtp(path)
    data.species = list(species)
    n = len(species)
    rng = np.random.default_rng(0)
    data.radial_coeffs = rng.uniform(-1, 1, (n, n, data.radial_funcs_count, 8))
    data.species_coeffs = np.zeros(n)
    data.scaling = 1.0  # a trained file scales energies; the basis is compared here
    values = []
    for i in range(data.alpha_scalar_moments):
        data.moment_coeffs = np.eye(data.alpha_scalar_moments)[i]
        image = atoms.copy()
        image.calc = make_calculator(data)
        values.append(image.get_potential_energy())
    return np.sort(values)


def _li2s():
    atoms = bulk("SLi2", "fluorite", a=5.7, cubic=True)
    atoms.rattle(0.2, seed=3)
    return atoms


def test_level8_equals_maml_table(tmp_path):
    ours = tmp_path / "08.mtp"
    ours.write_text(untrained_mtp_text(8, 2, 1.5, 5.0, 8))
    theirs = tmp_path / "08g.mtp"
    theirs.write_text(MAML_LEVEL8.read_text() % (2, 1.5, 5.0, 8))
    mine, ref = read_mtp(ours), read_mtp(theirs)
    for key in ("alpha_moments_count", "alpha_index_basic_count", "alpha_scalar_moments"):
        assert getattr(mine, key) == getattr(ref, key)
    np.testing.assert_array_equal(mine.alpha_index_basic, ref.alpha_index_basic)
    atoms = _li2s()
    np.testing.assert_allclose(
        _scalar_moment_values(ours, atoms), _scalar_moment_values(theirs, atoms), rtol=1e-10
    )


def test_level10_equals_the_basis_of_an_mlip_potential(tmp_path):
    if not MLIP_LEVEL10.is_file():
        pytest.skip(f"{MLIP_LEVEL10} not found (../shared beside the clone)")
    theirs = read_mtp(MLIP_LEVEL10)
    ours = tmp_path / "10.mtp"
    ours.write_text(untrained_mtp_text(10, theirs.species_count, 0.5, 5.0, 8))
    mine = read_mtp(ours)
    for key in ("alpha_moments_count", "alpha_index_basic_count", "alpha_scalar_moments"):
        assert getattr(mine, key) == getattr(theirs, key)
    np.testing.assert_array_equal(mine.alpha_index_basic, theirs.alpha_index_basic)
    atoms = _li2s()  # each scalar moment of both bases, with the same random radial part
    np.testing.assert_allclose(
        _scalar_moment_values(ours, atoms, (3, 16, 29)),
        _scalar_moment_values(MLIP_LEVEL10, atoms, (3, 16, 29)),
        rtol=1e-10,
    )


@pytest.mark.parametrize(
    ("level", "scalars", "basic", "moments"),
    # counts read from MLIP-2's untrained_mtps/{08,12,14}.mtp (level 10: the MLIP file
    # below; no MLIP file of level 16 is at hand, so no row pins ionflow's own output)
    [(8, 9, 11, 18), (12, 29, 46, 84), (14, 52, 81, 174)],
)
def test_basis_sizes_match_mlip(level, scalars, basic, moments):
    basis = generate_basis(level)
    assert len(basis.alpha_moment_mapping) == scalars
    assert len(basis.alpha_index_basic) == basic
    assert basis.alpha_moments_count == moments


@pytest.mark.parametrize("level", [12, 16])
def test_generated_potential_is_rotation_invariant(tmp_path, level):
    path = tmp_path / "pot.mtp"
    path.write_text(untrained_mtp_text(level, 2, 1.5, 5.0, 8))
    data = read_mtp(path)
    data.species = [3, 16]
    data.initialize(np.random.default_rng(1))
    atoms = _li2s()
    rotated = atoms.copy()
    rotated.set_cell(atoms.cell @ Rotation.random(random_state=4).as_matrix().T, scale_atoms=True)
    energies = []
    for image in (atoms, rotated):
        image.calc = make_calculator(data)
        energies.append(image.get_potential_energies())
    assert np.abs(energies[0]).max() > 1e-3
    np.testing.assert_allclose(energies[0], energies[1], rtol=1e-8, atol=1e-8)


def test_bad_level_is_user_error():
    with pytest.raises(IonflowInputError, match="level"):
        generate_basis(9)
