"""Σ5[100](021) tilt grain boundary (pymatgen's GrainBoundaryGenerator) with region labels.

Every atom gets the site property ``gb_region``: ``GB``, ``Near_GB``, ``Far_GB`` or
``Bulk`` from its distance to the nearest GB plane along the boundary normal (c axis),
in slabs of ``region_width`` Å — the convention ``ionflow.analysis.regions`` follows; it
reads the plane positions (``gb_planes_frac``) and ``gb_axis`` from the provenance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymatgen.core import Structure
from pymatgen.core.interface import GrainBoundaryGenerator

from ionflow.errors import IonflowInputError
from ionflow.structures.gb_regions import REGION_NAMES
from ionflow.structures.supercell import perpendicular_widths

GB_AXIS = 2  # pymatgen puts the boundary normal along c


def region_labels(
    structure: Structure, planes_frac: Sequence[float], width: float = 10.0, axis: int = GB_AXIS
) -> list[str]:
    """Region name of every site from its distance (Å) to the nearest plane.

    Args:
        structure: the GB cell.
        planes_frac: fractional positions of the GB planes along ``axis``.
        width: slab width (Å).
        axis: lattice direction normal to the planes.
    """
    height = perpendicular_widths(structure.lattice)[axis]
    delta = structure.frac_coords[:, axis][:, None] - np.asarray(planes_frac)[None, :]
    delta -= np.round(delta)
    distance = np.abs(delta).min(axis=1) * height
    index = np.minimum((distance // width).astype(int), len(REGION_NAMES) - 1)
    return [REGION_NAMES[i] for i in index]


def on_cubic_lattice(structure: Structure, tolerance: float = 0.03) -> Structure:
    """``structure`` on the cubic lattice of its volume (fractional coordinates kept).

    A relaxed or ordered cubic cell is cubic only within numerical noise, and pymatgen's
    coincidence-site lattice exists only for exact axial ratios.

    Raises:
        IonflowInputError: lengths differ by more than ``tolerance`` (fraction) or an
            angle is off 90 degrees by more than ``tolerance`` radians.
    """
    lengths, angles = np.array(structure.lattice.abc), np.array(structure.lattice.angles)
    if (
        lengths.max() / lengths.min() - 1 > tolerance
        or np.abs(np.radians(angles - 90.0)).max() > tolerance
    ):
        raise IonflowInputError(
            f"the cell {lengths.round(3).tolist()} Å, {angles.round(2).tolist()} deg is "
            f"not cubic within {tolerance:.0%}; the GB needs a cubic parent"
        )
    side = structure.volume ** (1.0 / 3.0)
    return Structure(
        np.eye(3) * side,
        structure.species,
        structure.frac_coords,
        site_properties=structure.site_properties,
    )


def shortest_distance(structure: Structure) -> float:
    """Shortest distance between two sites (periodic images included), Å."""
    _, _, _, distances = structure.get_neighbor_list(4.0)
    return float(distances[distances > 1e-8].min()) if len(distances) else 4.0


def grain_boundary(
    structure: Structure,
    sigma: int = 5,
    rotation_axis: Sequence[int] = (1, 0, 0),
    plane: Sequence[int] = (0, 2, 1),
    expand_times: int = 1,
    region_width: float = 10.0,
    ab_shift: Sequence[float] = (0.0, 0.0),
    cubic: bool = False,
) -> tuple[Structure, dict]:
    """A symmetric tilt GB of an ordered structure, with per-atom region labels.

    Args:
        structure: ordered bulk structure (conventional cell).
        sigma: Σ value of the coincidence site lattice.
        rotation_axis: tilt axis (Miller indices).
        plane: GB plane (Miller indices).
        expand_times: repeats of each grain along the normal (grain thickness).
        region_width: thickness of each region slab (Å).
        ab_shift: in-plane shift of the upper grain (fractions of a and b); the
            Li6PS5Cl Σ5(021) boundary puts atoms 0.19 Å apart without one and keeps
            every distance above 2 Å with (0.5, 0).
        cubic: first put ``structure`` on the cubic lattice of its volume
            (:func:`on_cubic_lattice`), as relaxed cells are cubic only within noise.

    Returns:
        ``(gb, how)``; ``gb`` carries ``grain_label`` and ``gb_region`` site properties;
        ``how`` records sigma, angle (deg), axis, plane, ``gb_planes_frac``, ``gb_axis``,
        the number of atoms per region and the shortest interatomic distance
        (``min_distance_A``).

    Raises:
        IonflowInputError: a disordered structure or a sigma/axis/plane that does not
            give a coincidence boundary.
    """
    if not structure.is_ordered:
        raise IonflowInputError("grain boundaries need an ordered structure; order it first")
    if cubic:
        structure = on_cubic_lattice(structure)
    generator = GrainBoundaryGenerator(structure)
    try:
        angles = generator.get_rotation_angle_from_sigma(sigma, list(rotation_axis))
    except Exception as exc:
        raise IonflowInputError(f"no Σ{sigma} boundary about {list(rotation_axis)}") from exc
    if not angles:
        raise IonflowInputError(f"no Σ{sigma} boundary about {list(rotation_axis)}")
    errors = []
    for angle in sorted(angles, reverse=True):
        try:
            gb = generator.gb_from_parameters(
                list(rotation_axis),
                angle,
                expand_times=expand_times,
                plane=list(plane),
                rm_ratio=0.0,
                ab_shift=list(ab_shift),
                # a cubic lattice holding an orthorhombic ordering (50 % X@4c): the
                # axial ratios are exact, say so
                ratio=[1, 1, 1] if cubic else None,
            )
        except Exception as exc:  # pymatgen rejects planes that do not fit the angle
            errors.append(str(exc))
            continue
        if tuple(gb.gb_plane) == tuple(plane):
            break
    else:
        raise IonflowInputError(
            f"no Σ{sigma}{list(rotation_axis)}{tuple(plane)} boundary could be built "
            f"({'; '.join(errors)[:120]})"
        )
    z = gb.frac_coords[:, GB_AXIS]
    grains = np.array(gb.site_properties["grain_label"])
    bottom = np.isin(grains, ["bottom", "bottom_incident"])
    middle = 0.5 * (z[bottom].max() + z[~bottom].min())
    edge = 0.5 * (z[~bottom].max() - 1.0 + z[bottom].min())
    planes = [float(edge % 1.0), float(middle)]
    structure_out = Structure.from_sites(gb.sites)
    labels = region_labels(structure_out, planes, region_width)
    structure_out.add_site_property("gb_region", labels)
    how = {
        "transformation": "grain_boundary",
        "sigma": sigma,
        "rotation_axis": list(rotation_axis),
        "rotation_angle": float(gb.rotation_angle),
        "plane": list(plane),
        "expand_times": expand_times,
        "gb_axis": GB_AXIS,
        "gb_planes_frac": planes,
        "region_width": region_width,
        "region_counts": {name: labels.count(name) for name in REGION_NAMES},
        "ab_shift": list(ab_shift),
        "cubic": cubic,
        "min_distance_A": shortest_distance(structure_out),
        "label": f"gb-sigma{sigma}-{''.join(map(str, rotation_axis))}-{''.join(map(str, plane))}",
    }
    return structure_out, how
