"""Parent crystal structures shipped with ionflow (no network), or read from a file."""

from __future__ import annotations

import json
import warnings
from functools import cache
from importlib import resources
from pathlib import Path

from pymatgen.core import Lattice, Structure

from ionflow.errors import IonflowInputError
from ionflow.structures.validation import check_geometry, check_structure

ALIASES: dict[str, str] = {
    "li6ps5cl": "Li6PS5Cl",
    "li6ps5br": "Li6PS5Br",
    "li6ps5i": "Li6PS5I",
    "llzo": "LLZO",
    "li7la3zr2o12": "LLZO",
    "llzo-primitive": "LLZO-primitive",
    "lsth": "LSTH-24k",
    "lsth-1a": "LSTH-1a",
    "lsth-24k": "LSTH-24k",
}


# parents shipped as the primitive cell of another (fewer atoms, same crystal)
PRIMITIVE_OF: dict[str, str] = {"LLZO-primitive": "LLZO"}  # bcc: 4 formula units, not 8


@cache
def parent_records() -> dict[str, dict]:
    """The crystallographic records of ``data/parents.json``, keyed by canonical name."""
    text = resources.files("ionflow.structures").joinpath("data/parents.json").read_text()
    return {name: record for name, record in json.loads(text).items() if not name.startswith("_")}


def canonical_name(name: str) -> str | None:
    """Canonical parent name for ``name`` (case-insensitive), or None if unknown."""
    return ALIASES.get(name.strip().lower())


def build_parent(name: str) -> Structure:
    """Build the shipped parent ``name`` (canonical) with oxidation states and labels.

    Each site carries the site property ``wyckoff`` (e.g. ``"4a"``, ``"Li_24g"``) from
    the record, so later builders can find the sites they reorder.
    """
    record = parent_records()[name]
    species, coords, labels = [], [], []
    for site in record["sites"]:
        species.append(site["species"])
        coords.append(site["coords"])
        labels.append(site["label"])
    structure = Structure.from_spacegroup(
        record["spacegroup"],
        Lattice.cubic(record["a"]),
        species,
        coords,
        site_properties={"wyckoff": labels},
        tol=1e-4,
    )
    structure.add_oxidation_state_by_element(record["oxidation_states"])
    return structure


def read_structure_file(path: Path) -> Structure:
    """Read a CIF/POSCAR/... file with pymatgen, turning failures into one-line errors.

    The structure must have sites, a cell with a volume and no overlapping atoms
    (:func:`~ionflow.structures.validation.check_geometry`).

    Raises:
        IonflowInputError: the file is missing or cannot be read (the reason, e.g. an
            unknown element, is named), its site occupancies exceed 1, or its geometry
            is broken.
    """
    path = Path(path)
    if not path.is_file():
        raise IonflowInputError(f"{path}: structure file not found")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            structure = Structure.from_file(path)
        except Exception as exc:  # pymatgen raises many types for unreadable files
            if (
                any("occupanc" in str(w.message).lower() for w in caught)
                or "occupanc" in str(exc).lower()
            ):
                raise IonflowInputError(
                    f"{path}: site occupancies sum to more than 1; fix the occupancies"
                ) from exc
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise IonflowInputError(
                f"{path}: not a structure file pymatgen can read ({reason})"
            ) from exc
    if any("cannot be determined" in str(w.message) for w in caught):
        raise IonflowInputError(
            f"{path}: the POSCAR names no elements; add the element symbols line "
            "(e.g. 'Li S') above the atom counts"
        )
    try:
        check_geometry(structure)
    except IonflowInputError as exc:
        raise IonflowInputError(f"{path}: {exc}") from exc
    return structure


def get_parent_structure(name: str) -> Structure:
    """Return a parent structure by name or from a CIF/POSCAR file.

    Args:
        name: ``Li6PS5Cl``, ``Li6PS5Br``, ``Li6PS5I``, ``LLZO`` (Li7La3Zr2O12),
            ``LLZO-primitive`` (its primitive cell, half the atoms), ``LSTH-1a``,
            ``LSTH-24k`` (case-insensitive), or a path to a structure file pymatgen
            reads (CIF, POSCAR, ...).

    Returns:
        The structure (lattice in Å) with oxidation states on every species; shipped
        parents also carry the site property ``wyckoff``.

    Raises:
        IonflowInputError: unknown name, unreadable file, site occupancies above 1, or
            a structure that is not charge balanced.
    """
    canonical = canonical_name(name)
    if canonical in PRIMITIVE_OF:
        return build_parent(PRIMITIVE_OF[canonical]).get_primitive_structure(tolerance=0.01)
    if canonical is not None:
        return build_parent(canonical)
    path = Path(name).expanduser()
    if path.is_file():
        return check_structure(read_structure_file(path))
    known = ", ".join(sorted([*parent_records(), *PRIMITIVE_OF]))
    raise IonflowInputError(f"unknown material '{name}' (known: {known}; or a CIF/POSCAR path)")
