"""Electrostatic ground states (ESGS): lowest-Ewald-energy orderings of a disordered cell.

Two methods behind one function:

* ``"enumerate"`` — pymatgen's ``OrderDisorderedStructureTransformation`` (exact
  branch-and-bound over all orderings); used when the number of orderings is small.
* ``"anneal"`` — simulated annealing of site swaps on the Ewald pair matrix, then a
  steepest-descent quench to a swap-stable local minimum, repeated from several random
  starts. Brute force is hopeless for cells like the 154-atom LSTH model (~1e30
  orderings); one Ewald matrix of unit charges makes every swap an O(1) energy update,
  so a few hundred thousand swaps take seconds. The lowest minima found are returned;
  they are not guaranteed to be the global minima (the report says which method ran).

Symmetry-equivalent orderings have the same Ewald energy, so orderings are told apart by
energy (ties within 1e-6 eV collapse to one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pymatgen.analysis.ewald import EwaldMinimizer, EwaldSummation
from pymatgen.core import Species, Structure
from pymatgen.transformations.standard_transformations import (
    OrderDisorderedStructureTransformation,
)

from ionflow.errors import IonflowInputError
from ionflow.structures.validation import check_structure

ENUMERATION_LIMIT = 20_000  # orderings; above this the annealer is used
ENERGY_TIE = 1e-6  # eV; orderings closer than this are treated as equivalent


@dataclass
class SiteGroup:
    """Sites sharing one disordered occupancy and the species counts to place on them."""

    indices: np.ndarray
    species: list[Species | None]  # None is a vacancy
    counts: list[int]


def ewald_energy(structure: Structure) -> float:
    """Total Ewald energy of an ordered, decorated structure (eV per cell)."""
    return float(EwaldSummation(structure).total_energy)


def site_groups(structure: Structure) -> list[SiteGroup]:
    """Group the disordered sites of ``structure`` by their occupancy.

    Raises:
        IonflowInputError: an occupancy that does not give a whole number of atoms.
    """
    by_occupancy: dict[tuple, list[int]] = {}
    for index, site in enumerate(structure):
        if site.is_ordered:
            continue
        key = tuple(sorted((str(sp), round(occ, 6)) for sp, occ in site.species.items()))
        by_occupancy.setdefault(key, []).append(index)
    groups = []
    for indices in by_occupancy.values():
        occupancy = structure[indices[0]].species
        species: list[Species | None] = []
        counts = []
        for specie, occu in occupancy.items():
            exact = occu * len(indices)
            if abs(exact - round(exact)) > 1e-3:
                raise IonflowInputError(
                    f"occupancy {occu:.4g} of {specie} on {len(indices)} sites gives "
                    f"{exact:.3f} atoms, not a whole number; use a larger supercell"
                )
            species.append(specie)
            counts.append(round(exact))
        vacancies = len(indices) - sum(counts)
        if vacancies:
            species.append(None)
            counts.append(vacancies)
        groups.append(SiteGroup(np.array(indices), species, counts))
    return groups


def number_of_orderings(groups: list[SiteGroup]) -> float:
    """Number of distinct site assignments (multinomial product, as a float)."""
    total = 0.0
    for group in groups:
        log = math.lgamma(len(group.indices) + 1) - sum(math.lgamma(c + 1) for c in group.counts)
        total += log
    return math.exp(min(total, 700.0))


def build_ordering(structure: Structure, groups: list[SiteGroup], labels: dict) -> Structure:
    """The ordered structure with ``labels[group_number][k]`` = species index of site k."""
    ordered = structure.copy()
    remove = []
    for g, group in enumerate(groups):
        for site_index, choice in zip(group.indices, labels[g], strict=True):
            specie = group.species[choice]
            if specie is None:
                remove.append(int(site_index))
            else:
                ordered.replace(int(site_index), specie, properties=ordered[site_index].properties)
    ordered.remove_sites(remove)
    return ordered.get_sorted_structure()


def _anneal(
    matrix: np.ndarray,
    charges: np.ndarray,
    groups: list[SiteGroup],
    group_charges: list[np.ndarray],
    rng: np.random.Generator,
    steps: int,
) -> tuple[dict, float]:
    """One annealing run and quench; returns the labels per group and q.M.q (eV)."""
    q = charges.copy()
    labels = {}
    for g, group in enumerate(groups):
        labels[g] = rng.permutation(np.repeat(np.arange(len(group.counts)), group.counts))
        q[group.indices] = group_charges[g][labels[g]]
    potential = matrix @ q
    energy = float(q @ potential)
    diag = np.diag(matrix)
    sizes = np.array([len(g.indices) for g in groups], dtype=float)
    weights = sizes / sizes.sum()
    temperatures = np.geomspace(1.0, 1e-3, steps)  # eV
    group_choice = rng.choice(len(groups), size=steps, p=weights)
    for step in range(steps):
        g = group_choice[step]
        group = groups[g]
        a, b = rng.integers(len(group.indices), size=2)
        if labels[g][a] == labels[g][b]:
            continue
        i, j = group.indices[a], group.indices[b]
        d = q[j] - q[i]
        delta = 2 * d * (potential[i] - potential[j]) + d * d * (
            diag[i] + diag[j] - 2 * matrix[i, j]
        )
        if delta > 0 and rng.random() >= math.exp(-delta / temperatures[step]):
            continue
        labels[g][a], labels[g][b] = labels[g][b], labels[g][a]
        q[i], q[j] = q[j], q[i]
        potential += matrix[:, i] * d - matrix[:, j] * d
        energy += delta
    # steepest descent over all swaps until no swap lowers the energy
    while True:
        best = (0.0, None)
        for g, group in enumerate(groups):
            idx = group.indices
            qi = q[idx]
            d = qi[None, :] - qi[:, None]  # d[a, b] = q_b - q_a
            pot = potential[idx]
            sub = matrix[np.ix_(idx, idx)]
            delta = 2 * d * (pot[:, None] - pot[None, :]) + d * d * (
                diag[idx][:, None] + diag[idx][None, :] - 2 * sub
            )
            a, b = np.unravel_index(np.argmin(delta), delta.shape)
            if delta[a, b] < best[0] - 1e-9:
                best = (float(delta[a, b]), (g, a, b))
        if best[1] is None:
            break
        g, a, b = best[1]
        i, j = groups[g].indices[a], groups[g].indices[b]
        d = q[j] - q[i]
        labels[g][a], labels[g][b] = labels[g][b], labels[g][a]
        q[i], q[j] = q[j], q[i]
        potential += matrix[:, i] * d - matrix[:, j] * d
        energy += best[0]
    return labels, float(q @ potential)


def anneal_orderings(
    structure: Structure,
    n_structures: int = 5,
    restarts: int | None = None,
    steps_per_site: int = 400,
    seed: int = 0,
    exclusion_radius: float | None = None,
) -> list[tuple[Structure, float]]:
    """Low-Ewald-energy orderings by annealing from ``restarts`` random starts.

    Args:
        structure: disordered structure with oxidation states.
        n_structures: number of distinct orderings wanted.
        restarts: independent runs (default ``max(4 n, 12)``).
        steps_per_site: annealing swap attempts per disordered site and run.
        seed: random seed (same seed, same result).
        exclusion_radius: disordered sites closer than this (Å) get a 10 eV pair
            penalty per unit charge product, so split sites (e.g. garnet 24d/96h at
            1.6 Å) are not occupied together.

    Returns:
        ``(structure, ewald_energy_eV)`` sorted by energy, at most ``n_structures``.
    """
    groups = site_groups(structure)
    unit = structure.copy()
    unit.replace_species({sp: Species("Li", 1) for sp in structure.composition})
    for i in range(len(unit)):
        unit.replace(i, Species("Li", 1))
    matrix = EwaldSummation(unit).total_energy_matrix
    if exclusion_radius:
        mobile = np.concatenate([g.indices for g in groups])
        close = structure.distance_matrix[np.ix_(mobile, mobile)] < exclusion_radius
        np.fill_diagonal(close, False)
        matrix = matrix.copy()
        matrix[np.ix_(mobile, mobile)] += 10.0 * close
    charges = np.array(
        [sum(sp.oxi_state * occ for sp, occ in site.species.items()) for site in structure]
    )
    group_charges = [
        np.array([0.0 if sp is None else sp.oxi_state for sp in g.species]) for g in groups
    ]
    n_disordered = sum(len(g.indices) for g in groups)
    steps = steps_per_site * max(n_disordered, 1)
    rng = np.random.default_rng(seed)
    found: dict[float, dict] = {}
    for _ in range(restarts or max(4 * n_structures, 12)):
        labels, energy = _anneal(matrix, charges, groups, group_charges, rng, steps)
        key = round(energy / ENERGY_TIE) * ENERGY_TIE
        if not any(abs(key - k) < ENERGY_TIE for k in found):
            found[key] = {g: lab.copy() for g, lab in labels.items()}
    best = sorted(found)[:n_structures]
    results = []
    for key in best:
        ordered = build_ordering(structure, groups, found[key])
        results.append((ordered, ewald_energy(ordered)))
    return sorted(results, key=lambda pair: pair[1])


def enumerate_orderings(
    structure: Structure, n_structures: int = 5
) -> list[tuple[Structure, float]]:
    """Exact lowest orderings with pymatgen's OrderDisorderedStructureTransformation."""
    transformation = OrderDisorderedStructureTransformation(algo=EwaldMinimizer.ALGO_FAST)
    ranked = transformation.apply_transformation(structure, return_ranked_list=n_structures * 4)
    results: list[tuple[Structure, float]] = []
    for entry in ranked:
        ordered = entry["structure"]
        energy = ewald_energy(ordered)
        if all(abs(energy - e) >= ENERGY_TIE for _, e in results):
            results.append((ordered.get_sorted_structure(), energy))
    return sorted(results, key=lambda pair: pair[1])[:n_structures]


def electrostatic_ground_states(
    structure: Structure,
    n_structures: int = 5,
    method: str = "auto",
    seed: int = 0,
) -> list[tuple[Structure, dict]]:
    """The ``n_structures`` lowest-Ewald-energy orderings of a disordered structure.

    Args:
        structure: disordered structure (sites with partial occupancies); oxidation
            states are guessed if missing. Make the supercell first.
        n_structures: number of distinct orderings wanted.
        method: ``"enumerate"`` (exact, small cells), ``"anneal"`` (large cells) or
            ``"auto"`` (enumerate up to ``ENUMERATION_LIMIT`` orderings).
        seed: random seed of the annealer.

    Returns:
        ``(structure, how)`` pairs sorted by Ewald energy; ``how`` holds ``method``,
        ``rank`` (0 = lowest), ``ewald_energy`` (eV per cell) and
        ``ewald_energy_per_atom`` (eV/atom).

    Raises:
        IonflowInputError: nothing to order, occupancies above 1, a charged cell, or
            fractional atom counts.
    """
    if n_structures < 1:
        raise IonflowInputError(f"number of orderings {n_structures} must be >= 1")
    if method not in {"auto", "enumerate", "anneal"}:
        raise IonflowInputError(f"unknown ordering method '{method}' (auto, enumerate, anneal)")
    decorated = check_structure(structure)
    if decorated.is_ordered:
        raise IonflowInputError(f"{decorated.formula} has no partial occupancies to order")
    groups = site_groups(decorated)
    count = number_of_orderings(groups)
    if method == "auto":
        method = "enumerate" if count <= ENUMERATION_LIMIT else "anneal"
    if method == "enumerate":
        pairs = enumerate_orderings(decorated, n_structures)
    else:
        pairs = anneal_orderings(decorated, n_structures, seed=seed)
    return [
        (
            ordered,
            {
                "transformation": "electrostatic_ground_state",
                "method": method,
                "rank": rank,
                "ewald_energy": energy,
                "ewald_energy_per_atom": energy / len(ordered),
                "orderings_possible": count,
            },
        )
        for rank, (ordered, energy) in enumerate(pairs)
    ]
