import pytest

from ionflow.errors import IonflowInputError
from ionflow.structures.parents import get_parent_structure
from ionflow.structures.validation import total_charge


@pytest.mark.parametrize(
    ("name", "n_sites", "space_group", "formula"),
    [
        ("Li6PS5Cl", 52, "F-43m", "Li6PS5Cl"),
        ("li6ps5br", 52, "F-43m", "Li6PS5Br"),
        ("Li6PS5I", 52, "F-43m", "Li6PS5I"),
        ("LLZO", 256, "Ia-3d", "Li7La3Zr2O12"),
        ("LSTH-1a", 5, "Pm-3m", None),
        ("LSTH-24k", 11, "Pm-3m", None),
    ],
)
def test_shipped_parents(name, n_sites, space_group, formula):
    structure = get_parent_structure(name)
    assert len(structure) == n_sites
    assert structure.get_space_group_info()[0] == space_group
    assert total_charge(structure) == pytest.approx(0.0, abs=1e-9)
    if formula:
        assert structure.composition.reduced_formula == formula
    # the shortest distance between fully occupied sites is physical (no overlaps)
    ordered = structure.copy()
    ordered.remove_sites([i for i, s in enumerate(ordered) if not s.is_ordered])
    dist = ordered.distance_matrix + 10 * __import__("numpy").eye(len(ordered))
    assert dist.min() > 1.8


def test_lsth_composition():
    for name in ("LSTH-1a", "LSTH-24k"):
        amounts = get_parent_structure(name).composition.get_el_amt_dict()
        assert amounts == pytest.approx({"Li": 0.375, "Sr": 0.4375, "Ta": 0.75, "Hf": 0.25, "O": 3})


def test_user_file_round_trip(tmp_path, argyrodite_cl):
    path = tmp_path / "POSCAR"
    argyrodite_cl.to(filename=str(path), fmt="poscar")
    structure = get_parent_structure(str(path))
    assert structure.composition.reduced_formula == "Li6PS5Cl"


def test_bad_structures_are_input_errors(tmp_path, argyrodite_cl):
    with pytest.raises(IonflowInputError, match="unknown material"):
        get_parent_structure("Li6PS5F")
    cif = argyrodite_cl.to(fmt="cif")
    # pymatgen refuses to build such a site, so edit the text of a valid file
    (tmp_path / "over.cif").write_text(
        cif.replace(
            "0.00000000  0.00000000  0.00000000  1.0", "0.00000000  0.00000000  0.00000000  1.3"
        )
    )
    with pytest.raises(IonflowInputError, match="occupanc"):
        get_parent_structure(str(tmp_path / "over.cif"))
    charged = argyrodite_cl.copy()
    charged.remove_sites([0])
    charged.to(filename=str(tmp_path / "charged.cif"))
    with pytest.raises(IonflowInputError, match="charge balanced"):
        get_parent_structure(str(tmp_path / "charged.cif"))
