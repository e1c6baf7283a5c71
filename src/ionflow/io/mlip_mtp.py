"""MLIP ``.mtp`` potential files: a line-by-line check before an engine reads one.

motep's reader (and ``mlp``) fail on a damaged ``.mtp`` with an IndexError or a
ValueError that names neither the file nor the line. :func:`check_mtp_text` walks the
MLIP-2 layout (``MTP`` header, ``key = value`` lines, the ``radial_coeffs`` block),
reports the first problem as one line (file, line number, what to fix) and returns the
``key = value`` lines it read (:class:`MtpHeader`). Every number ionflow reads from an
``.mtp`` text (the cutoff: :func:`mtp_cutoff`) comes from there; the engines read
the coefficients with motep's own reader.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ionflow.errors import IonflowInputError
from ionflow.io.text_file import read_text_file

INTEGER_KEYS = (  # at least 1
    "species_count",
    "radial_basis_size",
    "radial_funcs_count",
    "alpha_moments_count",
    "alpha_index_basic_count",
    "alpha_scalar_moments",
)
COUNT_KEYS = ("alpha_index_times_count",)  # may be 0 (a level-2 potential has none)
FLOAT_KEYS = ("scaling", "min_dist", "max_dist")
NUMBER_LIST_KEYS = ("species_coeffs", "moment_coeffs", "alpha_moment_mapping")
REQUIRED_KEYS = ("species_count", "min_dist", "max_dist", "radial_basis_size")


def _numbers(text: str) -> list[float]:
    """Parse ``{1, 2.5, ...}`` (braces optional); raise ValueError on anything else."""
    items = [v for v in text.strip().strip("{}").split(",") if v.strip()]
    values = [float(v) for v in items]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("NaN or infinite")
    return values


@dataclass(frozen=True)
class MtpHeader:
    """The ``key = value`` lines of a checked ``.mtp`` and the numbers ionflow reads.

    Attributes:
        values: every ``key = value`` line, values as written, in file order.
        species_count: number of species (types 0 .. species_count - 1).
        min_dist_A: inner radius of the radial basis (``min_dist``), Å.
        max_dist_A: cutoff radius (``max_dist``), Å.
        radial_basis_size: number of Chebyshev radial basis functions.
    """

    values: dict[str, str]
    species_count: int
    min_dist_A: float
    max_dist_A: float
    radial_basis_size: int


def check_mtp_text(
    text: str, source: str | Path = "<mtp>", species: Sequence[str] | None = None
) -> MtpHeader:
    """Check the text of an MLIP ``.mtp`` file (the MLIP-2 layout); return its header.

    Args:
        text: the file's text.
        source: file name used in messages.
        species: element symbols the potential is used with; their number must equal
            the file's ``species_count``.

    Returns:
        The file's ``key = value`` lines.

    Raises:
        IonflowInputError: one line naming ``source``, the line (1-based) and the problem.
    """
    lines = text.splitlines()

    def fail(number: int, what: str) -> IonflowInputError:
        return IonflowInputError(f"{source}: line {number}: {what}")

    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or lines[first].strip() != "MTP":
        raise IonflowInputError(f"{source}: line {(first or 0) + 1}: no 'MTP' header: not an .mtp")
    values: dict[str, str] = {}
    number = first + 1
    while number < len(lines):
        number += 1
        line = lines[number - 1].strip()
        if not line:
            continue
        if line == "radial_coeffs":
            number = _check_radial_coeffs(lines, number, values, fail)
            continue
        key, sep, value = (part.strip() for part in line.partition("="))
        if not sep or not key:
            raise fail(number, f"expected 'key = value', found {line[:60]!r}")
        try:
            if key in INTEGER_KEYS and (not value.isdigit() or int(value) < 1):
                raise ValueError
            if key in COUNT_KEYS and not value.isdigit():
                raise ValueError
            if key in FLOAT_KEYS and len(_numbers(value)) != 1:
                raise ValueError
            if key in NUMBER_LIST_KEYS:
                _numbers(value)
        except ValueError:
            raise fail(number, f"{key} has a bad value {value[:40]!r}") from None
        values[key] = value
    missing = [key for key in REQUIRED_KEYS if key not in values]
    if missing:
        raise IonflowInputError(f"{source}: missing {', '.join(missing)}: not a complete .mtp")
    header = MtpHeader(
        values,
        species_count=int(values["species_count"]),
        min_dist_A=float(values["min_dist"]),
        max_dist_A=float(values["max_dist"]),
        radial_basis_size=int(values["radial_basis_size"]),
    )
    if header.min_dist_A >= header.max_dist_A:
        raise IonflowInputError(f"{source}: min_dist must be below max_dist")
    n_species = header.species_count
    if "species_coeffs" in values and len(_numbers(values["species_coeffs"])) != n_species:
        raise IonflowInputError(f"{source}: species_coeffs must hold species_count values")
    if species is not None and len(species) != n_species:
        raise IonflowInputError(
            f"{source}: the potential has {n_species} species but --species names "
            f"{len(species)} ({','.join(species)}); give its species in type order"
        )
    return header


def _check_radial_coeffs(lines: list[str], number: int, values: dict[str, str], fail) -> int:
    """Check the ``radial_coeffs`` block after line ``number``; return its last line."""
    try:
        n_species = int(values["species_count"])
        n_funcs = int(values["radial_funcs_count"])
        size = int(values["radial_basis_size"])
    except KeyError as exc:
        raise fail(number, f"radial_coeffs before {exc.args[0]}") from None
    for pair in range(n_species * n_species):
        i, j = divmod(pair, n_species)
        for row in range(n_funcs + 1):
            number += 1
            if number > len(lines):
                raise fail(number - 1, "file ends inside radial_coeffs (truncated?)")
            line = lines[number - 1].strip()
            if row == 0:
                if line != f"{i}-{j}":
                    raise fail(number, f"expected the radial_coeffs pair '{i}-{j}', found {line!r}")
                continue
            try:
                if len(_numbers(line)) != size:
                    raise ValueError
            except ValueError:
                raise fail(
                    number, f"radial_coeffs {i}-{j} row needs {size} numbers in braces"
                ) from None
    return number


def read_mtp_file_text(path: str | Path, species: Sequence[str] | None = None) -> str:
    """Return the checked text of the ``.mtp`` file ``path``.

    Raises:
        IonflowInputError: missing, not text, or malformed (see :func:`check_mtp_text`).
    """
    text = read_text_file(path, "MLIP .mtp")
    check_mtp_text(text, path, species)
    return text


def mtp_cutoff(text: str, source: str | Path = "<mtp>") -> float:
    """Cutoff radius (``max_dist``, Å) of an ``.mtp`` file's text.

    Raises:
        IonflowInputError: if the text is no valid ``.mtp`` (see :func:`check_mtp_text`).
    """
    return check_mtp_text(text, source).max_dist_A
