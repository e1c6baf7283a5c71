"""Σ5[100](021) tilt grain boundary (pymatgen's GrainBoundaryGenerator) with region labels.

The upper grain's rigid-body translation (in-plane shift and an opening along the normal,
the usual gamma-surface search of GB construction) is chosen so no two atoms across the
boundary sit much closer than the same pair of elements does in the bulk
(:func:`rigid_body_translation`); pymatgen's bare construction puts anions 2 Å apart there.

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
from ionflow.structures.contacts import CONTACT_CUTOFF_A, closest_contacts, pair_name
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


def anion_symbols(structure: Structure) -> set[str]:
    """Elements with a negative oxidation state (decorated, else pymatgen's best guess)."""
    species = structure.composition.elements
    if all(hasattr(sp, "oxi_state") and sp.oxi_state is not None for sp in species):
        return {sp.symbol for sp in species if sp.oxi_state < 0}
    guesses = structure.composition.element_composition.oxi_state_guesses(max_sites=-50)
    return {el for el, oxi in (guesses[0] if guesses else {}).items() if oxi < 0}


def contact_summary(
    structure: Structure, reference: dict[str, float], anions: set[str]
) -> dict[str, float]:
    """Closest contacts of ``structure`` against the bulk's (:func:`closest_contacts`).

    Returns ``min_distance_A`` (any pair), ``min_anion_distance_A`` (anion-anion) and
    ``min_contact_ratio``: the smallest distance / bulk distance of the same element
    pair (1 when every pair is at least as far apart as in the bulk).
    """
    contacts = closest_contacts(structure)
    anion_pairs = [d for pair, d in contacts.items() if all(el in anions for el in pair.split("-"))]
    return {
        "min_distance_A": min(contacts.values(), default=CONTACT_CUTOFF_A),
        "min_anion_distance_A": min(anion_pairs, default=CONTACT_CUTOFF_A),
        "min_contact_ratio": min([1.0, *(d / reference[pair] for pair, d in contacts.items())]),
    }


def rigid_body_translation(
    gb: Structure,
    reference: dict[str, float],
    ab_shift: Sequence[float],
    ab_grid: Sequence[int],
    openings_A: Sequence[float],
    min_contact_ratio: float,
) -> tuple[tuple[float, float], float, float]:
    """The upper grain's translation that keeps the boundary's contacts bulk-like.

    Tries in-plane shifts ``ab_shift + (i / na, j / nb)`` on the ``ab_grid`` ``(na, nb)``
    and, smallest first, openings along the normal (``openings_A``, Å; the cell grows
    by twice the opening, one per boundary); returns the first opening at which some
    shift reaches ``min_contact_ratio`` (closest cross-boundary distance / bulk distance
    of the same element pair), else the best pair found.

    Args:
        gb: the boundary built with no shift and no opening (``grain_label`` sites).
        reference: bulk contacts (:func:`closest_contacts` of the bulk).
        ab_shift: the grid's origin (fractions of a and b).
        ab_grid: grid points along a and b.
        openings_A: openings tried, Å.
        min_contact_ratio: the ratio that is good enough.

    Returns:
        ``(ab_shift, opening_A, contact_ratio)``.
    """
    matrix = gb.lattice.matrix
    normal = np.cross(matrix[0], matrix[1])
    normal *= np.sign(normal @ matrix[2]) / np.linalg.norm(normal)
    height = float(normal @ matrix[2])
    grains = np.array(gb.site_properties["grain_label"])
    top = np.isin(grains, ["top", "top_incident"])
    names = np.array([site.specie.symbol for site in gb])
    z = gb.cart_coords @ normal
    planar = gb.cart_coords - np.outer(z, normal)
    bottom_idx, top_idx = np.where(~top)[0], np.where(top)[0]
    # pairs across a boundary that an opening can only separate: normal gap below the
    # cutoff; k = 0 the middle boundary, k = -1 the edge one (top against bottom's image)
    pairs = []
    for k in (0, -1):
        gap = z[top_idx][None, :] + k * height - z[bottom_idx][:, None]
        b, t = np.nonzero(np.abs(gap) < CONTACT_CUTOFF_A)
        limit = np.array(
            [
                reference[pair_name(names[i], names[j])]
                for i, j in zip(bottom_idx[b], top_idx[t], strict=True)
            ]
        )
        pairs.append((planar[top_idx[t]] - planar[bottom_idx[b]], gap[b, t], limit, 1 + 2 * k))
    images = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
    images = images @ matrix[:2] - np.outer(images @ matrix[:2] @ normal, normal)
    na, nb = ab_grid
    best = ((float(ab_shift[0]), float(ab_shift[1])), float(openings_A[0]), -1.0)
    for opening in openings_A:
        for i in range(na):
            for j in range(nb):
                shift = (ab_shift[0] + i / na, ab_shift[1] + j / nb)
                in_plane = shift[0] * matrix[0] + shift[1] * matrix[1]
                in_plane -= (in_plane @ normal) * normal
                ratio = np.inf
                for vectors, gap, limit, sign in pairs:
                    # the middle gap opens by +opening, the edge one by -opening
                    # (measured top minus bottom image: the top grain moves up)
                    lateral = vectors[None, :, :] + in_plane + images[:, None, :]
                    normal_gap = gap + sign * opening
                    distance = np.sqrt((lateral**2).sum(axis=-1).min(axis=0) + normal_gap**2)
                    ratio = min(ratio, float((distance / limit).min()))
                if ratio > best[2] + 1e-9:
                    best = ((shift[0] % 1.0, shift[1] % 1.0), float(opening), min(1.0, ratio))
        if best[2] >= min_contact_ratio:
            break
    return best


def grain_boundary(
    structure: Structure,
    sigma: int = 5,
    rotation_axis: Sequence[int] = (1, 0, 0),
    plane: Sequence[int] = (0, 2, 1),
    expand_times: int = 1,
    region_width: float = 10.0,
    ab_shift: Sequence[float] = (0.0, 0.0),
    cubic: bool = False,
    ab_grid: Sequence[int] = (1, 1),
    openings_A: Sequence[float] = (0.0,),
    min_contact_ratio: float = 0.8,
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
        ab_grid: in-plane grid (from ``ab_shift``) of the rigid-body search
            (:func:`rigid_body_translation`); ``(1, 1)`` with ``openings_A`` ``(0,)``
            keeps ``ab_shift`` and no opening.
        openings_A: openings along the normal tried, smallest first (Å).
        min_contact_ratio: the search stops at the first opening whose closest contact is
            at least this fraction of the bulk's for the same element pair.

    Returns:
        ``(gb, how)``; ``gb`` carries ``grain_label`` and ``gb_region`` site properties;
        ``how`` records sigma, angle (deg), axis, plane, ``gb_planes_frac``, ``gb_axis``,
        the number of atoms per region, the translation chosen (``ab_shift``,
        ``opening_A``) and the closest contacts (``min_distance_A``,
        ``min_anion_distance_A``, ``min_contact_ratio``) after it and, under
        ``before_translation``, with ``ab_shift`` and no opening.

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

    def build(angle: float, shift: Sequence[float], opening: float = 0.0):
        return generator.gb_from_parameters(
            list(rotation_axis),
            angle,
            expand_times=expand_times,
            plane=list(plane),
            rm_ratio=0.0,
            ab_shift=list(shift),
            vacuum_thickness=opening,
            # a cubic lattice holding an orthorhombic ordering (50 % X@4c): the
            # axial ratios are exact, say so
            ratio=[1, 1, 1] if cubic else None,
        )

    errors = []
    for angle in sorted(angles, reverse=True):
        try:
            gb = build(angle, ab_shift)
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
    reference, anions = closest_contacts(structure), anion_symbols(structure)
    before = contact_summary(gb, reference, anions)
    shift, opening = (float(ab_shift[0]), float(ab_shift[1])), 0.0
    if tuple(ab_grid) != (1, 1) or tuple(openings_A) != (0.0,):
        shift, opening, _ = rigid_body_translation(
            build(angle, (0.0, 0.0)), reference, ab_shift, ab_grid, openings_A, min_contact_ratio
        )
        # pymatgen opens along a x b, which points against c for some planes
        matrix = gb.lattice.matrix
        sign = float(np.sign(np.cross(matrix[0], matrix[1]) @ matrix[2]))
        gb = build(angle, shift, sign * opening)
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
        "ab_shift": list(shift),
        "opening_A": opening,
        "cubic": cubic,
        **contact_summary(structure_out, reference, anions),
        "before_translation": {"ab_shift": [float(x) for x in ab_shift], **before},
        "label": f"gb-sigma{sigma}-{''.join(map(str, rotation_axis))}-{''.join(map(str, plane))}",
    }
    return structure_out, how
