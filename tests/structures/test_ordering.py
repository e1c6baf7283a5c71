import numpy as np
import pytest
from pymatgen.core import Species

from ionflow.errors import IonflowInputError
from ionflow.structures.ordering import electrostatic_ground_states, ewald_energy
from ionflow.structures.parents import get_parent_structure
from ionflow.structures.supercell import make_supercell


@pytest.fixture
def mixed_argyrodite(argyrodite_cl):
    """Li6PS5Cl with Cl/S 50:50 on 4a and 4c: 36 orderings, six symmetry classes."""
    structure = argyrodite_cl.copy()
    for index, site in enumerate(structure):
        if site.properties["wyckoff"] in ("4a", "4c"):
            mix = {Species("Cl", -1): 0.5, Species("S", -2): 0.5}
            structure.replace(index, mix, properties=site.properties)
    return structure


@pytest.mark.parametrize("method", ["enumerate", "anneal"])
def test_esgs_sorted_and_ordered(mixed_argyrodite, method):
    results = electrostatic_ground_states(mixed_argyrodite, 3, method=method)
    energies = [how["ewald_energy"] for _, how in results]
    assert energies == sorted(energies)
    assert len(set(np.round(energies, 6))) == len(energies)
    for structure, how in results:
        assert structure.is_ordered
        assert structure.composition.reduced_formula == "Li6PS5Cl"
        assert ewald_energy(structure) == pytest.approx(how["ewald_energy"])
        assert how["method"] == method


def test_annealer_finds_the_exact_ground_state(mixed_argyrodite):
    exact = electrostatic_ground_states(mixed_argyrodite, 1, method="enumerate")
    annealed = electrostatic_ground_states(mixed_argyrodite, 1, method="anneal", seed=3)
    assert annealed[0][1]["ewald_energy"] == pytest.approx(exact[0][1]["ewald_energy"], abs=1e-6)


def test_lsth_supercell_ordering_is_sorted_and_keeps_composition():
    cell = make_supercell(get_parent_structure("LSTH-1a"), (4, 4, 2))
    results = electrostatic_ground_states(cell, 3, method="auto")
    assert results[0][1]["method"] == "anneal"
    energies = [how["ewald_energy"] for _, how in results]
    assert energies == sorted(energies)
    for structure, _ in results:
        assert len(structure) == 154
        assert structure.composition.get_el_amt_dict() == {
            "Li": 12, "Sr": 14, "Ta": 24, "Hf": 8, "O": 96
        }  # fmt: skip


def test_bad_ordering_input(argyrodite_cl):
    with pytest.raises(IonflowInputError, match="no partial"):
        electrostatic_ground_states(argyrodite_cl, 2)
    lsth = get_parent_structure("LSTH-1a")
    with pytest.raises(IonflowInputError, match="whole number"):
        electrostatic_ground_states(lsth, 2)
