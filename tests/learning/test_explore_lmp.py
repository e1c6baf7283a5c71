"""The cluster path of active learning, replayed: LAMMPS+MLIP explores, ``mlp`` selects.

``lmp`` is replaced by a stand-in that checks the deck and the extrapolation-control
inputs of each MLIP version against hand-checked references and leaves recorded
``preselected.cfg`` files (one run ends at the break threshold, as MLIP ends it);
``mlp`` is ``tests/data/mtp/fake_mlp.py`` as MLIP-2 and as MLIP-3.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest
from pymatgen.io.ase import AseAtomsAdaptor
from tests.fixtures.md import MD_MTP_FILE, li2s_structure
from tests.fixtures.mlp import FAKE_MLP_COMMAND, graded_cfg_text
from tests.fixtures.mtp import LI2S_SPECIES

import ionflow.learning.flows.active_learning as active_learning
import ionflow.md.run as md_run
import ionflow.settings as settings_module
from ionflow.io.labelled_set import LabelledSet
from ionflow.io.mlip_cfg import write_labelled_cfg
from ionflow.learning.explore import AseMdExplorer, ExplorationResult
from ionflow.learning.explore_lammps import LammpsExplorer
from ionflow.learning.explore_lmp import LmpExplorer
from ionflow.learning.flows.active_learning import ActiveLearningMaker, default_explorer
from ionflow.learning.schemas.active_learning import ActiveLearningDocument
from ionflow.mtp.selection import mlp_select_add
from ionflow.settings import IonflowSettings

DATA = Path(__file__).parents[1] / "data" / "mtp"
RUN_GRADES = [[2.6, 4.1], [3.3, 11.7]]  # what MLIP saved in each run; the second one broke


@pytest.fixture
def replayed_lmp(monkeypatch, fake_mlp, li2s_labelled):
    """``lmp`` stand-in: checks the inputs of the MLIP version, leaves recorded outputs."""
    engine, work = fake_mlp
    settings = IonflowSettings(mpi_prefix="srun -n 8", lmp_cmd="lmp_mlip")
    monkeypatch.setattr(md_run, "get_settings", lambda: settings)
    runs = []
    real_run = subprocess.run  # the mlp stand-in still runs

    def fake_run(cmd, cwd, check, stdout=None, stderr=None, **kwargs):
        if "lmp_mlip" not in cmd:
            return real_run(cmd, cwd=cwd, check=check, stdout=stdout, stderr=stderr, **kwargs)
        run_dir = Path(cwd)
        assert cmd == ["srun", "-n", "8", "lmp_mlip", "-in", "in.lammps", "-log", "log.lammps"]
        deck = (run_dir / "in.lammps").read_text()
        assert "fix integrate all nvt temp" in deck and "pair_coeff * *" in deck
        assert (run_dir / "pot.mtp").read_text() == MD_MTP_FILE.read_text()
        if os.environ["MLP_DIALECT"] == "mlip2":
            assert "pair_style mlip mlip.ini\n" in deck
            assert (run_dir / "mlip.ini").read_text() == (DATA / "mlip.ini").read_text()
            assert (run_dir / "state.als").exists()  # written by mlp calc-grade
            selected = run_dir / "preselected.cfg"
        else:
            assert (DATA / "pair_style_mlip3.lammps").read_text() in deck
            assert b"#MVS_v1.1" in (run_dir / "pot.almtp").read_bytes()
            assert not (run_dir / "mlip.ini").exists()
            selected = run_dir / "preselected.cfg.0"  # MPI build: rank suffix
        grades = RUN_GRADES[len(runs)]
        text = write_labelled_cfg(li2s_labelled[: len(grades)], run_dir / "x.cfg").read_text()
        selected.write_text(graded_cfg_text(text, grades))
        runs.append(run_dir.name)
        if max(grades) > 10.0:
            stdout.write(f"Breaking threshold exceeded (MV-grade: {max(grades):f})\n")
            raise subprocess.CalledProcessError(9, cmd)

    monkeypatch.setattr(md_run.subprocess, "run", fake_run)
    return engine, work, runs


def test_lmp_explorer_selects_inside_lammps_replayed(
    replayed_lmp, li2s_labelled, tmp_path, monkeypatch
):
    engine, work, runs = replayed_lmp
    monkeypatch.chdir(tmp_path)
    explorer = LmpExplorer(mlp_command=FAKE_MLP_COMMAND)
    cell = AseAtomsAdaptor.get_atoms(li2s_structure((1, 1, 1)))
    result = explorer(
        [cell], [600.0, 1200.0], 50, str(MD_MTP_FILE), LI2S_SPECIES, li2s_labelled[:10], 2.0, 10.0
    )
    assert runs == ["run.000", "run.001"]
    assert [f.name for f in fields(result)] == [f.name for f in fields(ExplorationResult)]
    assert result.candidate_grades == [g for run in RUN_GRADES for g in run]
    assert result.all_grades == result.candidate_grades
    assert result.runs_stopped == 1  # MLIP's break threshold ended the second run
    assert all(a.calc is None and a.pbc.all() for a in result.candidates)
    assert [len(a) for a in result.candidates] == [12] * 4
    calls = (work / "calls.log").read_text().splitlines()
    if engine.dialect == "mlip2":
        assert calls[1].startswith("calc-grade ")  # state.als of the training set
    else:
        assert calls[1].startswith("train ") and "--iteration_limit=0" in calls[1]
    assert not list(tmp_path.glob("ionflow-explore-*"))  # run directories cleaned up


def test_mlp_select_add_finds_the_chosen_candidates_again_replayed(
    fake_mlp, li2s_labelled, monkeypatch, tmp_path
):
    engine, work = fake_mlp
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLP_SELECT", "3,0,4")  # what the recorded select-add chose
    candidates = [a.copy() for a in li2s_labelled[10:16]]  # positions only
    grades = [2.5, 3.0, 9.0, 4.0, 7.5, 2.1]
    selection = mlp_select_add(
        engine, MD_MTP_FILE, LI2S_SPECIES, li2s_labelled[:10], candidates, grades, max_selected=2
    )
    assert selection.indices == [4, 3]  # chosen by mlp, highest grade first, capped
    assert selection.grades == grades and selection.duplicates == 0
    call = (work / "calls.log").read_text().splitlines()[-1].split()
    assert call[0] in {"select-add", "select_add"} and call[3].endswith("candidates.cfg")
    assert mlp_select_add(engine, MD_MTP_FILE, LI2S_SPECIES, [], [], []).indices == []


def test_default_explorer_is_the_cluster_path_with_production_engines(monkeypatch):
    cluster = IonflowSettings(md_engine="lmp", mtp_engine="mlp")
    monkeypatch.setattr(active_learning, "get_settings", lambda: cluster)
    assert isinstance(default_explorer(), LmpExplorer)
    local = IonflowSettings(md_engine="lammps-python", mtp_engine="mlp")
    monkeypatch.setattr(active_learning, "get_settings", lambda: local)
    explorer = default_explorer(timestep_fs=2.0, grade_every=25)  # production's engine and step
    assert isinstance(explorer, LammpsExplorer) and explorer.timestep_fs == 2.0
    assert explorer.grade_every == 25
    motep_with_lmp = IonflowSettings(md_engine="lmp", mtp_engine="motep")
    monkeypatch.setattr(active_learning, "get_settings", lambda: motep_with_lmp)
    assert isinstance(default_explorer(), AseMdExplorer)


def test_loop_explores_in_lammps_jobs_and_selects_with_mlp_replayed(
    replayed_lmp, li2s_labelled, tmp_path, monkeypatch
):
    """``md_engine: lmp`` + ``mtp_engine: mlp``: the exploration job runs LAMMPS+MLIP with
    MLIP's own extrapolation control (the stand-in checks MLIP-2's ``mlip.ini`` or MLIP-3's
    ``pair_style mlip ... extrapolation_control``), the selection job runs ``mlp
    select-add``/``select_add`` on what LAMMPS saved; the documents are the local path's."""
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    engine, work, runs = replayed_lmp
    cluster = IonflowSettings(
        md_engine="lmp", mtp_engine="mlp", mlp_cmd=FAKE_MLP_COMMAND, mpi_prefix=""
    )
    monkeypatch.setitem(settings_module.SETTINGS_CACHE, "default", cluster)
    monkeypatch.setenv("MLP_SELECT", "3,0")  # what the recorded select-add chose
    labelled = LabelledSet(li2s_labelled[10:20], "chgnet", "PBE", LI2S_SPECIES)
    maker = ActiveLearningMaker(
        temperatures=(600.0, 1200.0), runs_per_temperature=1, md_steps=50, min_selected=5
    )
    flow = maker.make([li2s_structure((1, 1, 1))], labelled, mtp=MD_MTP_FILE.read_text())
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(flow, store=store, root_dir=tmp_path, ensure_success=True)

    assert len(runs) == 2  # one LAMMPS run per temperature, in the one exploration job
    (exploration,) = store.query({"name": {"$regex": "^explore "}}, load=True)
    assert exploration["output"]["explorer"] == "LmpExplorer"
    assert exploration["output"]["candidate_grades"] == [g for run in RUN_GRADES for g in run]
    calls = (work / "calls.log").read_text().splitlines()
    assert calls[-1].split()[0] == {"mlip2": "select-add", "mlip3": "select_add"}[engine.dialect]
    assert calls[-1].split()[3].endswith("candidates.cfg")
    found = store.query_one({"output.stop_reason": {"$exists": True}}, load=True)
    doc = ActiveLearningDocument(**found["output"])
    (it,) = doc.iterations
    assert doc.stop_reason == "iteration 1 selected 2 configurations"
    assert (it.n_runs, it.runs_stopped, it.n_candidates, it.n_selected) == (2, 1, 4, 2)
    assert it.grade_max == 11.7 and it.n_graded == 4  # LAMMPS reports the saved ones only
    assert it.explore_time_s > 0 and it.select_time_s > 0
