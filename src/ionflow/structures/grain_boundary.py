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


def grain_boundary(
    structure: Structure,
    sigma: int = 5,
    rotation_axis: Sequence[int] = (1, 0, 0),
    plane: Sequence[int] = (0, 2, 1),
    expand_times: int = 1,
    region_width: float = 10.0,
) -> tuple[Structure, dict]:
    """A symmetric tilt GB of an ordered structure, with per-atom region labels.

    Args:
        structure: ordered bulk structure (conventional cell).
        sigma: Σ value of the coincidence site lattice.
        rotation_axis: tilt axis (Miller indices).
        plane: GB plane (Miller indices).
        expand_times: repeats of each grain along the normal (grain thickness).
        region_width: thickness of each region slab (Å).

    Returns:
        ``(gb, how)``; ``gb`` carries ``grain_label`` and ``gb_region`` site properties;
        ``how`` records sigma, angle (deg), axis, plane, ``gb_planes_frac``, ``gb_axis``
        and the number of atoms per region.

    Raises:
        IonflowInputError: a disordered structure or a sigma/axis/plane that does not
            give a coincidence boundary.
    """
    if not structure.is_ordered:
        raise IonflowInputError("grain boundaries need an ordered structure; order it first")
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
        "label": f"gb-sigma{sigma}-{''.join(map(str, rotation_axis))}-{''.join(map(str, plane))}",
    }
    return structure_out, how
