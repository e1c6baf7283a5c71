import json
import math

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from ionflow.cli.main import app
from ionflow.errors import IonflowInputError
from ionflow.structures.jobs.core import SqsMaker
from ionflow.structures.parents import get_parent_structure
from ionflow.structures.sqs import special_quasirandom_structures, sqs_scaling

SQS_TOLERANCE = 1e-6  # a 32-atom fcc cell can match the random 1st and 2nd pair shells


@pytest.fixture
def fcc_binary() -> Structure:
    """fcc Au0.5Pd0.5, conventional 4-site cell, a = 4 Å."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.0), [{"Au": 0.5, "Pd": 0.5}], [[0, 0, 0]]
    )


def expected_counts(parent: Structure, cells: int) -> dict[str, float]:
    """Element counts of ``cells`` unit cells: occupancy x sites."""
    counts: dict[str, float] = {}
    for site in parent:
        for specie, occu in site.species.items():
            counts[specie.symbol] = counts.get(specie.symbol, 0.0) + occu * cells
    return counts


def test_fcc_sqs_matches_random_alloy_pairs(fcc_binary):
    [(sqs, how)] = special_quasirandom_structures(
        fcc_binary, scaling=(2, 2, 2), cutoffs=(4.5,), n_steps=1000, seed=1
    )
    assert sqs.composition.get_el_amt_dict() == {"Au": 16, "Pd": 16}
    error = how["correlation_error"]
    assert error["n_correlations"] == 3  # point + 1st and 2nd neighbour pairs
    assert error["max_abs"] < SQS_TOLERANCE
    assert error["rms"] <= error["max_abs"]
    # independent check: half of the 1st-neighbour bonds are Au-Pd, as in the random alloy
    unlike = total = 0
    for i, neighbours in enumerate(sqs.get_all_neighbors(3.0)):
        for neighbour in neighbours:
            total += 1
            unlike += sqs[i].specie != neighbour.specie
    assert total == 32 * 12
    assert unlike == total // 2


def test_lsth_sqs_composition_sites_and_error():
    parent = get_parent_structure("LSTH-24k")
    pairs = special_quasirandom_structures(
        parent, scaling=(4, 4, 2), cutoffs=(4.0,), n_steps=1500, seed=0, n_structures=2
    )
    counts = expected_counts(parent, 32)
    for sqs, how in pairs:
        assert sqs.is_ordered
        assert len(sqs) == 154
        amounts = sqs.composition.get_el_amt_dict()
        for element, count in counts.items():
            assert amounts[element] == pytest.approx(count, abs=1e-9)
        # vacancies were removed, and species stay on their own sublattice
        labels = {(site.specie.symbol, site.properties["wyckoff"]) for site in sqs}
        assert {w for el, w in labels if el == "Li"} == {"Li_24k"}
        assert {w for el, w in labels if el == "Sr"} == {"A_1a"}
        assert how["scaling"] == [4, 4, 2]
        assert how["ewald_energy"] < 0
        assert how["min_distance"] == pytest.approx(min(sqs.get_neighbor_list(3.0)[3]))
        assert 0 <= how["correlation_error"]["rms"] <= how["correlation_error"]["max_abs"]
    assert [how["seed"] for _, how in pairs] == [0, 1]
    # annealing lowers the error of the random start (2 steps: still a random occupation)
    [(_, start)] = special_quasirandom_structures(
        parent, scaling=(4, 4, 2), cutoffs=(4.0,), n_steps=2, seed=0
    )
    assert pairs[0][1]["correlation_error"]["rms"] < start["correlation_error"]["rms"]


def test_sqs_is_deterministic_with_a_seed():
    parent = get_parent_structure("LSTH-1a")
    runs = [
        special_quasirandom_structures(
            parent, scaling=(4, 2, 2), cutoffs=(4.0,), n_steps=300, seed=seed
        )[0]
        for seed in (7, 7, 8)
    ]
    first, again, other = (sqs for sqs, _ in runs)
    assert first == again
    assert runs[0][1]["correlation_error"] == runs[1][1]["correlation_error"]
    assert first != other
    assert first.composition == other.composition


def test_default_size_is_the_154_atom_lsth_cell_and_whole_counts():
    assert sqs_scaling(get_parent_structure("LSTH-24k")) == (4, 4, 2)
    assert sqs_scaling(get_parent_structure("LSTH-1a")) == (4, 4, 2)
    llzo = get_parent_structure("LLZO")
    for n_atoms in (100, 300):
        scaling = sqs_scaling(llzo, n_atoms)
        counts = expected_counts(llzo, math.prod(scaling))
        assert sum(counts.values()) >= n_atoms
        assert all(abs(c - round(c)) < 1e-6 for c in counts.values())


def test_sqs_maker_records_the_error_in_provenance(tmp_path):
    job = SqsMaker(cutoffs=(4.0,), n_steps=200).make("LSTH-24k")
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(job, store=store, ensure_success=True, root_dir=tmp_path)
    document = responses[job.uuid][1].output
    assert document.kind == "sqs"
    [record] = document.records
    assert record.n_atoms == 154
    error = record.provenance["correlation_error"]
    assert set(error) == {"max_abs", "rms", "n_correlations"}
    assert np.isfinite(error["max_abs"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"structure": "Li6PS5Cl"}, "no partial occupancies"),
        ({"scaling": (2, 2, 2)}, "whole numbers"),
        ({"scaling": (4, 4, 2), "n_atoms": 154}, "either"),
        ({"cutoffs": (-1.0,)}, "cutoffs"),
        ({"n_atoms": 0}, ">= 1"),
        ({"n_steps": 1}, "steps"),
    ],
)
def test_bad_sqs_input_is_one_line(kwargs, match):
    kwargs = dict(kwargs)
    structure = get_parent_structure(kwargs.pop("structure", "LSTH-1a"))
    with pytest.raises(IonflowInputError, match=match) as info:
        special_quasirandom_structures(structure, **{"n_steps": 10, **kwargs})
    assert "\n" not in str(info.value)


def test_cli_sqs_summary_holds_the_error(tmp_path):
    out = tmp_path / "sqs"
    args = ["structures", "LSTH-1a", "--sqs", "--supercell", "4x2x2", "--sqs-cutoffs", "4"]
    result = CliRunner().invoke(app, [*args, "--sqs-steps", "200", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads(result.stdout) == summary
    [entry] = summary
    assert entry["kind"] == "sqs"
    assert entry["n_atoms"] == 77
    assert entry["provenance"]["scaling"] == [4, 2, 2]
    assert entry["provenance"]["correlation_error"]["max_abs"] >= 0
    assert all((out / name).is_file() for name in entry["files"])


def test_cli_sqs_of_ordered_structure_exits_2(tmp_path, run_ionflow):
    out = tmp_path / "never"
    code, stderr = run_ionflow("structures", "Li6PS5Cl", "--sqs", "--out", str(out))
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert "no partial occupancies" in stderr
    assert not out.exists()
