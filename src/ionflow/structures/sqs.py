"""Special quasi-random structures (SQS) of a partially occupied structure, with icet.

An SQS is the ordered supercell whose cluster correlations (pairs, triplets, ... up to
the cutoffs) best match those of the infinite random alloy at the same occupancies
(Zunger et al., PRL 65, 353 (1990)). icet (installed with ionflow) builds the cluster
space, the random-alloy target cluster vector and runs the simulated annealing of site
swaps (``generate_sqs_from_supercells``) on the supercell the user chose; icet's
multicomponent basis handles any number of species and sublattices exactly.
sqsgenerator would anneal faster, but it is one more compiled dependency, and icet
already takes about 25 s for the paper's 154-atom LSTH cell (``benchmarks/structures_speed.py``).

Every group of disordered sites with the same occupancy (e.g. LSTH-24k: Sr/vacancy on
1a, Li/vacancy on 24k, Ta/Hf on 1b) becomes its own icet sublattice. Each species of a
group, vacancies included, is given a placeholder element unique to the group (icet
needs every species on exactly one sublattice, and vacancies on two sublattices must
stay apart); after the annealing the placeholders are mapped back to the original
species (oxidation states and site properties kept) and vacancies are removed.

The quality of an SQS is the difference between its cluster vector and the target
random-alloy cluster vector (zerolet excluded): ``max_abs`` and ``rms``. Small cells
cannot match every correlation, so the error depends on the size and the cutoffs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from pymatgen.core import Species, Structure

from ionflow.errors import IonflowInputError
from ionflow.structures.ordering import ewald_energy
from ionflow.structures.supercell import MAX_SUPERCELL_ATOMS, perpendicular_widths
from ionflow.structures.validation import check_occupancies, has_oxidation_states, total_charge

DEFAULT_CUTOFFS: tuple[float, ...] = (5.0, 4.0)  # Å: pairs, triplets
DEFAULT_MIN_ATOMS = 100
DEFAULT_STEPS = 10_000
COUNT_TOLERANCE = 1e-3  # atoms; occupancy x sites closer than this to an integer is one
# Placeholder elements for the disordered species (never in a solid electrolyte).
PLACEHOLDERS = ("He", "Ne", "Ar", "Kr", "Xe", "Rn", "Og", "Ts", "Lv", "Mc", "Fl", "Nh")
PLACEHOLDERS += ("Cn", "Rg", "Ds", "Mt", "Hs", "Bh", "Sg", "Db", "Rf", "Lr", "No", "Md")
CLOSE_CONTACT = 3.0  # Å; the closest interatomic distance is reported if below this


def _occupancy_key(site) -> tuple:
    return tuple(sorted((str(sp), round(occ, 6)) for sp, occ in site.species.items()))


def disordered_groups(structure: Structure) -> dict[tuple, list[int]]:
    """Indices of the disordered sites of ``structure``, grouped by their occupancy."""
    groups: dict[tuple, list[int]] = {}
    for index, site in enumerate(structure):
        if not site.is_ordered:
            groups.setdefault(_occupancy_key(site), []).append(index)
    return groups


def _species_fractions(site) -> list[tuple[Species | None, float]]:
    """``(species, occupancy)`` of a site, with the vacancy (None) last if there is one."""
    entries = [(specie, float(occu)) for specie, occu in site.species.items()]
    vacancy = 1.0 - sum(occu for _, occu in entries)
    if vacancy > COUNT_TOLERANCE / 100:
        entries.append((None, vacancy))
    return entries


def _counts_integral(structure: Structure, cells: int) -> bool:
    """True if every species (and vacancy) count is whole in ``cells`` unit cells."""
    for indices in disordered_groups(structure).values():
        for _, occu in _species_fractions(structure[indices[0]]):
            exact = occu * len(indices) * cells
            if abs(exact - round(exact)) > COUNT_TOLERANCE:
                return False
    return True


def sqs_scaling(structure: Structure, n_atoms: int = DEFAULT_MIN_ATOMS) -> tuple[int, int, int]:
    """Smallest diagonal scaling with at least ``n_atoms`` atoms and whole species counts.

    Atoms are counted after ordering (vacancies are not atoms). Among the scalings with
    the fewest unit cells, the most compact one (largest smallest perpendicular width)
    is chosen (then the most isotropic), e.g. 4x4x2 (154 atoms) for LSTH and ``n_atoms=100``.

    Args:
        structure: disordered unit cell.
        n_atoms: smallest number of atoms in the SQS.

    Raises:
        IonflowInputError: ``n_atoms`` < 1, or no cell up to the supercell size limit
            gives whole numbers of every species.
    """
    if n_atoms < 1:
        raise IonflowInputError(f"SQS size {n_atoms} atoms must be >= 1")
    atoms_per_cell = structure.composition.num_atoms
    cells = max(1, math.ceil(n_atoms / atoms_per_cell - 1e-9))
    while not _counts_integral(structure, cells):
        cells += 1
        if cells * len(structure) > MAX_SUPERCELL_ATOMS:
            raise IonflowInputError(
                f"no supercell of {structure.composition.reduced_formula} with >= {n_atoms} "
                "atoms gives whole numbers of every species; check the occupancies"
            )
    widths = perpendicular_widths(structure.lattice)
    best = max(
        (
            (n1, n2, cells // (n1 * n2))
            for n1 in range(1, cells + 1)
            for n2 in range(1, cells + 1)
            if cells % (n1 * n2) == 0
        ),
        key=lambda s: (
            round(float(min(widths * np.array(s))), 6),  # thickest thinnest direction
            -round(float(max(widths * np.array(s))), 6),  # then the most isotropic
            s,
        ),
    )
    return best


def _placeholder_map(
    structure: Structure, groups: dict[tuple, list[int]]
) -> dict[tuple, dict[str, tuple[Species | None, float]]]:
    """For each group, placeholder element -> (original species or None, occupancy)."""
    present = {el.symbol for el in structure.composition.elements}
    free = iter(p for p in PLACEHOLDERS if p not in present)
    mapping = {}
    for key, indices in groups.items():
        entries = {}
        for specie, occu in _species_fractions(structure[indices[0]]):
            try:
                entries[next(free)] = (specie, occu)
            except StopIteration as exc:
                raise IonflowInputError(
                    f"too many disordered species for SQS (at most {len(PLACEHOLDERS)})"
                ) from exc
        mapping[key] = entries
    return mapping


def correlation_error(cluster_vector: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Max-abs and RMS difference of two cluster vectors, zerolet excluded (dimensionless)."""
    diff = np.asarray(cluster_vector)[1:] - np.asarray(target)[1:]
    if diff.size == 0:
        return {"max_abs": 0.0, "rms": 0.0, "n_correlations": 0}
    return {
        "max_abs": float(np.max(np.abs(diff))),
        "rms": float(np.sqrt(np.mean(diff**2))),
        "n_correlations": int(diff.size),
    }


def _check_cutoffs(cutoffs: Sequence[float]) -> list[float]:
    values = [float(c) for c in cutoffs]
    if not values or min(values) <= 0:
        raise IonflowInputError(
            f"SQS cutoffs {list(cutoffs)} must be one or more positive distances (Å)"
        )
    return values


def special_quasirandom_structures(
    structure: Structure,
    scaling: Sequence[int] | None = None,
    n_atoms: int | None = None,
    cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
    n_steps: int = DEFAULT_STEPS,
    seed: int = 0,
    n_structures: int = 1,
) -> list[tuple[Structure, dict]]:
    """SQS of a partially occupied structure, each with its correlation-function error.

    Args:
        structure: unit cell with partial occupancies (vacancies allowed: occupancies
            on a site summing to less than 1).
        scaling: supercell repeats along a, b, c (e.g. ``(4, 4, 2)``); excludes ``n_atoms``.
        n_atoms: smallest number of atoms (vacancies not counted); the smallest
            compact diagonal supercell with whole species counts is used. Default
            (neither given): ``DEFAULT_MIN_ATOMS``.
        cutoffs: cluster diameters (Å) per order: pairs, triplets, quadruplets, ...
        n_steps: Monte Carlo trial swaps of the annealing (per structure, >= 2).
        seed: random seed; structure k uses ``seed + k`` (same seed, same SQS).
        n_structures: independent SQS to make.

    Returns:
        ``(structure, how)`` pairs; ``how`` holds ``transformation`` ("sqs"),
        ``scaling``, ``cutoffs``, ``n_steps``, ``seed``, ``target_occupancies``,
        ``correlation_error`` (``max_abs``, ``rms``, ``n_correlations``),
        ``min_distance`` (closest pair of atoms in Å, None if none within 3 Å: the
        random alloy does not avoid close split-site contacts, e.g. Li@24k next to Sr
        at 1.58 Å in LSTH) and, when every species has an oxidation state,
        ``ewald_energy`` (eV per cell).

    Raises:
        IonflowInputError: an ordered structure (nothing to randomise), occupancies
            above 1, both or a bad size, non-whole species counts in the supercell,
            bad cutoffs or steps.
    """
    from icet import ClusterSpace
    from icet.tools.structure_generation import (
        _get_sqs_cluster_vector,  # the target icet itself anneals towards
        generate_sqs_from_supercells,
    )

    check_occupancies(structure)
    if structure.is_ordered:
        raise IonflowInputError(
            f"{structure.composition.reduced_formula} has no partial occupancies; "
            "an SQS needs a disordered structure"
        )
    if scaling is not None and n_atoms is not None:
        raise IonflowInputError("give either an SQS supercell scaling or a number of atoms")
    if n_steps < 2 or n_structures < 1:
        raise IonflowInputError(
            f"SQS steps ({n_steps}) must be >= 2 and the SQS count ({n_structures}) >= 1"
        )
    cutoff_list = _check_cutoffs(cutoffs)
    if scaling is None:
        factors = sqs_scaling(structure, DEFAULT_MIN_ATOMS if n_atoms is None else n_atoms)
    else:
        factors = tuple(int(s) for s in scaling)
        if len(factors) != 3 or min(factors) < 1:
            raise IonflowInputError(f"SQS supercell {list(scaling)} needs three factors >= 1")
        if not _counts_integral(structure, math.prod(factors)):
            raise IonflowInputError(
                f"supercell {'x'.join(map(str, factors))} of "
                f"{structure.composition.reduced_formula} does not give whole numbers of "
                "every species; use a larger or different supercell"
            )
    groups = disordered_groups(structure)
    placeholders = _placeholder_map(structure, groups)
    site_symbols = []
    for site in structure:
        if site.is_ordered:
            site_symbols.append([site.specie.symbol])
        else:
            site_symbols.append(list(placeholders[_occupancy_key(site)]))
    unit = Atoms(
        [symbols[0] for symbols in site_symbols],
        cell=structure.lattice.matrix,
        scaled_positions=structure.frac_coords,
        pbc=True,
    )
    cluster_space = ClusterSpace(unit, cutoff_list, site_symbols)
    target_concentrations = {}
    for sublattice in cluster_space.get_sublattices(cluster_space.primitive_structure):
        if len(sublattice.chemical_symbols) < 2:
            continue
        entries = next(e for e in placeholders.values() if sublattice.chemical_symbols[0] in e)
        target_concentrations[sublattice.symbol] = {
            symbol: entries[symbol][1] for symbol in sublattice.chemical_symbols
        }
    target = _get_sqs_cluster_vector(cluster_space, target_concentrations)

    supercell = structure.make_supercell(list(factors), in_place=False)
    keys = [None if site.is_ordered else _occupancy_key(site) for site in supercell]
    start = Atoms(
        [site.specie.symbol if key is None else next(iter(placeholders[key])) for site, key in
         zip(supercell, keys, strict=True)],
        cell=supercell.lattice.matrix,
        scaled_positions=supercell.frac_coords,
        pbc=True,
    )  # fmt: skip
    target_occupancies = {
        f"{structure[indices[0]].species.formula} on {len(indices)} sites per cell": {
            ("vacancy" if specie is None else str(specie)): round(occu, 6)
            for specie, occu in _species_fractions(structure[indices[0]])
        }
        for indices in groups.values()
    }
    results = []
    for k in range(n_structures):
        annealed = generate_sqs_from_supercells(
            cluster_space, [start], target_concentrations, n_steps=n_steps, random_seed=seed + k
        )
        error = correlation_error(cluster_space.get_cluster_vector(annealed), target)
        ordered = supercell.copy()
        remove = []
        for index, (key, symbol) in enumerate(
            zip(keys, annealed.get_chemical_symbols(), strict=True)
        ):
            if key is None:
                continue
            specie = placeholders[key][symbol][0]
            if specie is None:
                remove.append(index)
            else:
                ordered.replace(index, specie, properties=ordered[index].properties)
        ordered.remove_sites(remove)
        ordered = ordered.get_sorted_structure()
        how = {
            "transformation": "sqs",
            "generator": "icet.generate_sqs_from_supercells",
            "scaling": list(factors),
            "cutoffs": cutoff_list,
            "n_steps": n_steps,
            "seed": seed + k,
            "target_occupancies": target_occupancies,
            "correlation_error": error,
            "label": f"sqs-{'x'.join(map(str, factors))}-{k:02d}",
        }
        distances = ordered.get_neighbor_list(CLOSE_CONTACT)[3]
        how["min_distance"] = float(distances.min()) if distances.size else None
        if has_oxidation_states(ordered) and abs(total_charge(ordered)) < 1e-3:
            how["ewald_energy"] = ewald_energy(ordered)
        results.append((ordered, how))
    return results
