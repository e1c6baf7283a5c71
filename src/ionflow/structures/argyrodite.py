"""Argyrodite Li6PS5X site disorder: six characteristic configurations, random structure.

The halide X- and the free S2- exchange between Wyckoff 4a and 4c of F-43m. In the
52-atom conventional cell (4 sites each) there are C(4,k)^2 ways to put k halides on 4c;
they fall into six symmetry-distinct classes (checked by enumeration): 0 % (F-43m),
25 % (R3m), 50 % (P2_122 and P2mm, equal Ewald energy), 75 % (R3m), 100 % (F-43m) —
the six configurations of the argyrodite MTP paper (its Figure S1 and Table 1).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
from pymatgen.core import Species, Structure

from ionflow.errors import IonflowInputError
from ionflow.structures.boltzmann import boltzmann_weights as configuration_weights
from ionflow.structures.ordering import ewald_energy

HALIDES = ("Cl", "Br", "I")
SYMPREC = 0.1  # Å, for space groups of the configurations

# DFT-PBE relative energies of the six configurations (argyrodite MTP paper, Table 1),
# meV/atom, keyed by configuration label.
PAPER_RELATIVE_ENERGIES_MEV: dict[str, float] = {
    "X4c-000-F-43m": 23.0,
    "X4c-025-R3m": 4.0,
    "X4c-050-P222_1": 0.0,
    "X4c-050-Pmm2": 11.0,
    "X4c-075-R3m": 13.0,
    "X4c-100-F-43m": 206.0,
}


def space_group_symbol(structure: Structure, symprec: float = SYMPREC) -> str:
    """International symbol of the space group (pymatgen/spglib, ``symprec`` in Å)."""
    try:
        return structure.get_space_group_info(symprec=symprec)[0]
    except Exception:  # spglib fails on some disordered or odd cells
        return "unknown"


def halide_of(structure: Structure) -> str:
    """The halide element of an argyrodite structure.

    Raises:
        IonflowInputError: no halide, or more than one.
    """
    present = [el for el in HALIDES if el in {e.symbol for e in structure.composition.elements}]
    if len(present) != 1:
        raise IonflowInputError(
            f"{structure.composition.reduced_formula} is not a Li6PS5X argyrodite (X = Cl, Br, I)"
        )
    return present[0]


def wyckoff_sites(structure: Structure, label: str) -> list[int]:
    """Indices of sites whose ``wyckoff`` site property is ``label``.

    Raises:
        IonflowInputError: the structure has no such labels (not a shipped parent).
    """
    labels = structure.site_properties.get("wyckoff")
    if labels is None:
        raise IonflowInputError(
            "argyrodite configurations need the shipped parent (sites labelled 4a/4c); "
            "use Li6PS5Cl, Li6PS5Br or Li6PS5I"
        )
    return [i for i, value in enumerate(labels) if value == label]


def halide_4c_fraction(structure: Structure) -> float | None:
    """Fraction of the 4c sites holding the halide (0-1), or None if not labelled."""
    labels = structure.site_properties.get("wyckoff")
    if labels is None:
        return None
    on_4c = [site for site, label in zip(structure, labels, strict=True) if label == "4c"]
    if not on_4c:
        return None
    halides = sum(1 for site in on_4c if site.specie.symbol in HALIDES)
    return halides / len(on_4c)


def _exchange(structure: Structure, on_4c: Sequence[int], on_4a: Sequence[int]) -> Structure:
    """Copy with halides put on the ``on_4c`` sites and S2- on the ``on_4a`` sites."""
    halide = Species(halide_of(structure), -1)
    sulfide = Species("S", -2)
    swapped = structure.copy()
    for index in on_4c:
        swapped.replace(index, halide, properties=swapped[index].properties)
    for index in on_4a:
        swapped.replace(index, sulfide, properties=swapped[index].properties)
    return swapped


def characteristic_configurations(parent: Structure) -> list[tuple[Structure, dict]]:
    """The six characteristic X/S2- orderings of the 52-atom argyrodite cell.

    Args:
        parent: a shipped argyrodite parent (halide on 4a, S2- on 4c, sites labelled).

    Returns:
        Six ``(structure, how)`` pairs in the order 0, 25, 50, 50, 75, 100 % halide on
        4c; ``how`` holds ``label``, ``halide_4c_fraction``, ``space_group`` and
        ``ewald_energy`` (eV per cell). Each class is represented by its first ordering
        in site order, so the result is deterministic.

    Raises:
        IonflowInputError: a parent that is not a labelled Li6PS5X cell.
    """
    halide = halide_of(parent)
    sites_4a, sites_4c = wyckoff_sites(parent, "4a"), wyckoff_sites(parent, "4c")
    if len(sites_4a) != 4 or len(sites_4c) != 4:
        raise IonflowInputError("argyrodite configurations need the 52-atom conventional cell")
    if any(parent[i].specie.symbol != halide for i in sites_4a):
        raise IonflowInputError("the argyrodite parent must hold the halide on every 4a site")
    configurations = []
    for k in range(5):
        classes: dict[str, tuple[Structure, float]] = {}
        for on_4c in itertools.combinations(sites_4c, k):
            for on_4a in itertools.combinations(sites_4a, k):
                candidate = _exchange(parent, on_4c, on_4a)
                symbol = space_group_symbol(candidate)
                if symbol not in classes:
                    classes[symbol] = (candidate, ewald_energy(candidate))
        # lowest Ewald energy first, then by symbol for ties (the two 50 % classes)
        for symbol, (structure, energy) in sorted(
            classes.items(), key=lambda item: (round(item[1][1], 6), item[0])
        ):
            fraction = k / 4
            label = f"X4c-{round(100 * fraction):03d}-{symbol.replace('/', '_')}"
            configurations.append(
                (
                    structure,
                    {
                        "transformation": "argyrodite_4a_4c_exchange",
                        "label": label,
                        "halide": halide,
                        "halide_4c_fraction": fraction,
                        "space_group": symbol,
                        "ewald_energy": energy,
                    },
                )
            )
    return configurations


def boltzmann_weights(
    relative_energies: Mapping[str, float], temperature: float
) -> dict[str, float]:
    """Normalised Boltzmann weights exp(-E/kT) of configurations, keyed by label.

    Label-keyed form of :func:`ionflow.structures.boltzmann.boltzmann_weights`.

    Args:
        relative_energies: label -> energy relative to the most stable (eV/atom; the
            argyrodite paper weights its configurations per atom).
        temperature: temperature (K), > 0.

    Raises:
        IonflowInputError: a non-positive temperature or no energies.
    """
    labels = list(relative_energies)
    weights = configuration_weights([relative_energies[k] for k in labels], temperature)
    return {label: float(weight) for label, weight in zip(labels, weights, strict=True)}


def cell_counts(weights: Mapping[str, float], n_cells: int) -> dict[str, int]:
    """Whole numbers of cells per configuration closest to ``weights`` (largest remainder)."""
    total = sum(weights.values())
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise IonflowInputError("configuration weights must be >= 0 and not all zero")
    exact = {label: n_cells * w / total for label, w in weights.items()}
    counts = {label: math.floor(value) for label, value in exact.items()}
    left = n_cells - sum(counts.values())
    for label in sorted(exact, key=lambda lab: counts[lab] - exact[lab])[:left]:
        counts[label] += 1
    return counts


def random_structure(
    configurations: Sequence[tuple[Structure, dict]],
    scaling: Sequence[int] = (3, 3, 3),
    weights: Mapping[str, float] | None = None,
    relative_energies: Mapping[str, float] | None = None,
    temperature: float = 300.0,
    seed: int = 0,
) -> tuple[Structure, dict]:
    """Supercell whose unit cells are characteristic configurations mixed by weight.

    Args:
        configurations: ``(structure, how)`` pairs from :func:`characteristic_configurations`
            (same lattice; ``how["label"]`` names each).
        scaling: number of unit cells along a, b, c.
        weights: label -> weight given by the user (any positive scale); overrides
            ``relative_energies``.
        relative_energies: label -> relative energy (eV/atom) for Boltzmann weights at
            ``temperature``; default the DFT-PBE values of the argyrodite paper.
        temperature: temperature of the Boltzmann weights (K).
        seed: random seed for where each configuration goes.

    Returns:
        ``(structure, how)``; every site carries the property ``configuration`` (label of
        its unit cell) and ``wyckoff``; ``how`` holds weights, cell counts and the
        overall halide fraction on 4c.

    Raises:
        IonflowInputError: unknown labels, bad weights or configurations of different
            lattices.
    """
    by_label = {how["label"]: structure for structure, how in configurations}
    if weights is None:
        if relative_energies is None:
            relative_energies = {k: v / 1000 for k, v in PAPER_RELATIVE_ENERGIES_MEV.items()}
        weights = boltzmann_weights(relative_energies, temperature)
        source = "boltzmann"
    else:
        source = "user"
    unknown = set(weights) - set(by_label)
    if unknown:
        raise IonflowInputError(
            f"unknown configuration labels {sorted(unknown)} (known: {sorted(by_label)})"
        )
    reference = next(iter(by_label.values())).lattice
    for label, structure in by_label.items():
        if not np.allclose(structure.lattice.matrix, reference.matrix, atol=1e-3):
            raise IonflowInputError(
                f"configuration {label} has a different lattice; mix unrelaxed cells or "
                "strain them to one lattice first"
            )
    n1, n2, n3 = (int(s) for s in scaling)
    n_cells = n1 * n2 * n3
    counts = cell_counts(weights, n_cells)
    sequence = [label for label, n in counts.items() for _ in range(n)]
    order = np.random.default_rng(seed).permutation(len(sequence))
    cells = list(itertools.product(range(n1), range(n2), range(n3)))
    species, frac_coords, wyckoff, labels = [], [], [], []
    for cell, pick in zip(cells, order, strict=True):
        label = sequence[pick]
        structure = by_label[label]
        offset = np.array(cell, dtype=float)
        for site in structure:
            species.append(site.species)
            frac_coords.append((site.frac_coords + offset) / (n1, n2, n3))
            wyckoff.append(site.properties.get("wyckoff"))
            labels.append(label)
    lattice = reference.matrix * np.array([[n1], [n2], [n3]])
    mixed = Structure(
        lattice,
        species,
        frac_coords,
        site_properties={"wyckoff": wyckoff, "configuration": labels},
    )
    return mixed, {
        "transformation": "argyrodite_random_structure",
        "scaling": [n1, n2, n3],
        "weights_source": source,
        "temperature": temperature if source == "boltzmann" else None,
        "weights": dict(weights),
        "cell_counts": counts,
        "halide_4c_fraction": halide_4c_fraction(mixed),
        "seed": seed,
    }
