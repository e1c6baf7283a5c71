import numpy as np
import pytest

from ionflow.errors import IonflowInputError
from ionflow.structures.grain_boundary import grain_boundary, region_labels


def test_sigma5_021_orientation_and_regions(argyrodite_cl):
    gb, how = grain_boundary(argyrodite_cl, expand_times=3)
    a = argyrodite_cl.lattice.a
    # tilt axis [100] stays the a vector; (021) planes stack along c: b = sqrt(5) a
    np.testing.assert_allclose(gb.lattice.angles, (90, 90, 90), atol=1e-6)
    assert gb.lattice.a == pytest.approx(a)
    assert gb.lattice.b == pytest.approx(np.sqrt(5) * a)
    assert how["plane"] == [0, 2, 1]
    assert how["rotation_axis"] == [1, 0, 0]
    assert how["rotation_angle"] == pytest.approx(143.130102, abs=1e-4)
    assert len(gb) == 3 * 520
    assert gb.composition.reduced_formula == "Li6PS5Cl"
    labels = gb.site_properties["gb_region"]
    assert len(labels) == len(gb)
    assert set(labels) == {"GB", "Near_GB", "Far_GB", "Bulk"}
    assert sum(how["region_counts"].values()) == len(gb)
    # labels follow the distance to the nearest plane
    c = gb.lattice.c  # orthogonal cell: c is the width along the GB normal
    z = gb.frac_coords[:, 2] * c
    planes = np.array(how["gb_planes_frac"]) * c
    dist = np.abs((z[:, None] - planes[None, :] + c / 2) % c - c / 2).min(axis=1)
    assert np.all(dist[np.array(labels) == "GB"] < 10.0)
    assert np.all(dist[np.array(labels) == "Bulk"] >= 30.0)


def test_region_labels_simple_cell(triclinic_cell):
    labels = region_labels(triclinic_cell, [0.0], width=1.0)
    assert len(labels) == 2 and labels[0] == "GB"


def test_gb_needs_ordered_structure():
    from ionflow.structures.parents import get_parent_structure

    with pytest.raises(IonflowInputError):
        grain_boundary(get_parent_structure("LSTH-1a"))


def test_ab_shift_removes_overlapping_atoms_and_cubic_builds_the_50_percent_ordering():
    from ionflow.structures.argyrodite import characteristic_configurations
    from ionflow.structures.parents import get_parent_structure

    parent = get_parent_structure("Li6PS5Cl")
    overlapping, how = grain_boundary(parent)
    assert how["min_distance_A"] < 0.5  # the unshifted Σ5(021) boundary stacks atoms
    shifted, how = grain_boundary(parent, ab_shift=(0.5, 0.0))
    assert len(shifted) == len(overlapping) and how["min_distance_A"] > 2.0
    # a P222_1 ordering on a cubic cell: pymatgen sees an orthorhombic lattice
    half = next(s for s, h in characteristic_configurations(parent) if "050-P222" in h["label"])
    with pytest.raises(IonflowInputError):
        grain_boundary(half, ab_shift=(0.5, 0.0))
    strained = half.copy()
    strained.lattice = strained.lattice.__class__(np.diag([9.86, 9.87, 9.85]))
    gb, how = grain_boundary(strained, ab_shift=(0.5, 0.0), cubic=True)
    assert len(gb) == 520 and how["min_distance_A"] > 2.0 and how["cubic"]
    with pytest.raises(IonflowInputError, match="not cubic"):
        strained.lattice = strained.lattice.__class__(np.diag([9.0, 9.87, 9.85]))
        grain_boundary(strained, cubic=True)


def test_rigid_body_search_keeps_the_boundary_contacts_bulk_like():
    from ionflow.structures.contacts import closest_contacts
    from ionflow.structures.grain_boundary import rigid_body_translation
    from ionflow.structures.parents import get_parent_structure

    parent = get_parent_structure("Li6PS5Cl")
    bare, bare_how = grain_boundary(parent, ab_shift=(0.5, 0.0))
    openings = (0.0, 0.5, 1.0, 1.5, 2.0)
    gb, how = grain_boundary(
        parent, ab_shift=(0.5, 0.0), ab_grid=(8, 16), openings_A=openings, min_contact_ratio=0.8
    )
    # pymatgen's boundary puts S and Cl 2.05 Å apart (half the bulk's S-Cl distance)
    before = how["before_translation"]
    assert before["min_anion_distance_A"] == pytest.approx(bare_how["min_anion_distance_A"])
    assert before["min_anion_distance_A"] < 2.1 and before["min_contact_ratio"] < 0.55
    assert bare_how["opening_A"] == 0 and bare.lattice.c == pytest.approx(
        gb.lattice.c - 2 * how["opening_A"]
    )
    # the translation found: every cross-boundary pair at >= 80 % of its bulk distance
    assert how["min_contact_ratio"] >= 0.8 and how["min_anion_distance_A"] > 3.0
    assert how["opening_A"] in openings[1:] and len(gb) == len(bare)
    assert gb.composition == bare.composition
    # ... at the smallest opening that does it
    smaller = openings[openings.index(how["opening_A"]) - 1]
    _, _, ratio = rigid_body_translation(
        grain_boundary(parent)[0],  # no shift, no opening: the search's start
        closest_contacts(parent),
        (0.5, 0.0),
        (8, 16),
        (smaller,),
        1.0,
    )
    assert ratio < 0.8
