"""MLIP ``.mtp`` text: one parser for the check and for every number read from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from motep.io.mlip.mtp import read_mtp

from ionflow.errors import IonflowInputError
from ionflow.io.mlip_mtp import check_mtp_text, mtp_cutoff, read_mtp_file_text
from ionflow.mtp.templates import untrained_mtp_text

TRAINED = Path(__file__).resolve().parents[1] / "data" / "md" / "li2s_level08.mtp"


def test_header_holds_what_motep_reads():
    text = TRAINED.read_text()
    header = check_mtp_text(text, TRAINED.name, species=["Li", "S"])
    data = read_mtp(TRAINED)
    assert (header.species_count, header.radial_basis_size) == (2, 8)
    assert (header.min_dist_A, header.max_dist_A) == (data.radial_basis.min, data.radial_basis.max)
    assert mtp_cutoff(text) == 5.0
    assert header.values["alpha_index_times_count"] == "14"


def test_level_2_has_no_times():
    """``alpha_index_times_count = 0`` is valid (level 2); it was refused as a bad value."""
    text = untrained_mtp_text(2, 2, 1.5, 4.5, 4)
    assert "alpha_index_times_count = 0" in text
    assert mtp_cutoff(text) == 4.5


def _replaced(old: str, new: str) -> str:
    text = TRAINED.read_text()
    assert old in text
    return text.replace(old, new, 1)


MALFORMED = {  # what is wrong -> (text, the line of the message)
    "max_dist not a number": (
        lambda: _replaced("max_dist = 5.000000000000000e+00", "max_dist = 5.0 A"),
        "bad.mtp: line 9: max_dist has a bad value '5.0 A'",
    ),
    "no max_dist": (
        lambda: _replaced("\tmax_dist = 5.000000000000000e+00\n", ""),
        "bad.mtp: missing max_dist: not a complete .mtp",
    ),
    "truncated": (
        lambda: "".join(TRAINED.read_text().splitlines(keepends=True)[:14]),
        "bad.mtp: line 14: file ends inside radial_coeffs (truncated?)",
    ),
    "max_dist below min_dist": (
        lambda: _replaced("max_dist = 5.000000000000000e+00", "max_dist = 1.0"),
        "bad.mtp: min_dist must be below max_dist",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_gives_one_error_through_every_route(case, tmp_path):
    """The cutoff of a damaged file fails as the check does (it had its own parse)."""
    make_text, message = MALFORMED[case]
    path = tmp_path / "bad.mtp"
    path.write_text(make_text())
    errors = []
    for route in (
        lambda: check_mtp_text(path.read_text(), path.name),
        lambda: mtp_cutoff(path.read_text(), path.name),
        lambda: read_mtp_file_text(path),
    ):
        with pytest.raises(IonflowInputError) as caught:
            route()
        errors.append(str(caught.value).replace(str(path), path.name))
    assert errors == [message] * 3
