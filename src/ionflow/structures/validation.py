"""Checks on user-given structures: site occupancies and charge balance."""

from __future__ import annotations

import numpy as np
from ase.neighborlist import primitive_neighbor_list
from pymatgen.core import DummySpecies, Structure

from ionflow.errors import IonflowInputError

OCCUPANCY_TOLERANCE = 1e-4
CHARGE_TOLERANCE = 1e-3  # elementary charges per cell
MIN_VOLUME_A3 = 1e-3  # a cell below this is degenerate (collinear or coplanar vectors)
OVERLAP_DISTANCE_A = 0.5  # closer sites hold the same atom twice


def has_oxidation_states(structure: Structure) -> bool:
    """True if every species on every site carries an oxidation state."""
    return all(
        getattr(specie, "oxi_state", None) is not None
        for site in structure
        for specie in site.species
    )


def with_oxidation_states(
    structure: Structure, oxidation_states: dict[str, float] | None = None
) -> Structure:
    """Return a copy with oxidation states (given per element, or guessed by pymatgen).

    Raises:
        IonflowInputError: no charge-balanced assignment of oxidation states exists.
    """
    if has_oxidation_states(structure) and not oxidation_states:
        return structure.copy()
    decorated = structure.copy()
    decorated.remove_oxidation_states()
    if oxidation_states:
        decorated.add_oxidation_state_by_element(oxidation_states)
        return decorated
    try:
        decorated.add_oxidation_state_by_guess()
    except ValueError as exc:
        raise IonflowInputError(
            f"cannot assign oxidation states to {structure.formula} ({exc}); "
            "give them explicitly, e.g. Li:1,S:-2"
        ) from exc
    if not has_oxidation_states(decorated):
        raise IonflowInputError(
            f"cannot assign oxidation states to {structure.composition.reduced_formula}; "
            "give them explicitly"
        )
    return decorated


def total_charge(structure: Structure) -> float:
    """Occupancy-weighted sum of oxidation states of all sites (elementary charges)."""
    return float(
        sum(occu * specie.oxi_state for site in structure for specie, occu in site.species.items())
    )


def check_occupancies(structure: Structure) -> None:
    """Check that the structure has sites and every site's occupancies sum to (0, 1].

    Raises:
        IonflowInputError: one line naming the first offending site.
    """
    if len(structure) == 0:
        raise IonflowInputError("the structure has no sites")
    for index, site in enumerate(structure):
        occupancy = site.species.num_atoms
        if occupancy > 1 + OCCUPANCY_TOLERANCE or occupancy <= 0:
            raise IonflowInputError(
                f"site {index} ({site.species.formula}) has total occupancy {occupancy:.4g}; "
                "occupancies on a site must sum to at most 1"
            )


def check_structure(structure: Structure, require_charge_balance: bool = True) -> Structure:
    """Validate a user structure and return it with oxidation states.

    Every site's occupancies must sum to at most 1 (vacancies are allowed) and, if
    ``require_charge_balance``, the occupancy-weighted charges must sum to zero.

    Raises:
        IonflowInputError: one line naming the first offending site or the net charge.
    """
    check_occupancies(structure)
    decorated = with_oxidation_states(structure)
    charge = total_charge(decorated)
    if require_charge_balance and abs(charge) > CHARGE_TOLERANCE:
        raise IonflowInputError(
            f"{structure.composition.reduced_formula} is not charge balanced "
            f"(net charge {charge:+.4g} e per cell); fix the occupancies or oxidation states"
        )
    return decorated


def check_geometry(structure: Structure) -> None:
    """Check every species is an element, the cell has a volume and no atoms overlap.

    Sites closer than ``OVERLAP_DISTANCE_A`` (periodic images included) are an error
    when their occupancies add up to more than 1; partially occupied split sites of a
    disordered structure may be that close.

    Raises:
        IonflowInputError: one line naming the problem (and the two sites).
    """
    if len(structure) == 0:
        raise IonflowInputError("the structure has no sites")
    dummies = sorted({str(sp) for sp in structure.composition if isinstance(sp, DummySpecies)})
    if dummies:
        raise IonflowInputError(
            f"{', '.join(dummies)} is not an element; give element symbols (e.g. Li, S)"
        )
    volume = structure.lattice.volume
    if not np.isfinite(volume) or abs(volume) < MIN_VOLUME_A3:
        raise IonflowInputError(
            f"the cell has volume {volume:.3g} Å^3; give three non-coplanar lattice vectors"
        )
    if not np.all(np.isfinite(structure.frac_coords)):
        raise IonflowInputError("the structure has NaN or infinite coordinates")
    # ASE's binned list caps the bin count (pymatgen's makes (L/0.5 Å)^3 bins: minutes
    # and gigabytes for a large, sparse cell)
    centres, neighbours, distances = primitive_neighbor_list(
        "ijd", [True] * 3, structure.lattice.matrix, structure.cart_coords, OVERLAP_DISTANCE_A
    )
    for i, j, distance in zip(centres, neighbours, distances, strict=True):
        occupancy = structure[int(i)].species.num_atoms + structure[int(j)].species.num_atoms
        if i <= j and occupancy > 1 + OCCUPANCY_TOLERANCE:
            same = " (with its own periodic image)" if i == j else ""
            raise IonflowInputError(
                f"sites {i} ({structure[int(i)].species_string}) and {j} "
                f"({structure[int(j)].species_string}) are {distance:.3f} Å apart{same}: "
                "overlapping atoms; remove the duplicate or fix the coordinates"
            )
