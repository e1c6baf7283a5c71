"""The mlp engine (replayed by a stand-in executable) and LAMMPS+mlip inputs."""

import os
import re
from pathlib import Path

import pytest
from tests.fixtures.mlp import RECORDED_GRADES
from tests.fixtures.mtp import LI2S_SPECIES

from ionflow.errors import IonflowInputError
from ionflow.io.mlip_cfg import read_labelled_cfg
from ionflow.io.mlip_ini import mlip3_pair_style, write_mlip_ini
from ionflow.mtp import motep_api
from ionflow.mtp.run import FitWeights, MlpEngine, gather_rank_files, get_engine, probe_dialect
from ionflow.mtp.templates import untrained_mtp_text

DATA = Path(__file__).parents[1] / "data" / "mtp"


def _calls(work: Path) -> list[list[str]]:
    return [line.split() for line in (work / "calls.log").read_text().splitlines()]


def test_mlp_dialect_is_probed_from_its_command_list_replayed(fake_mlp):
    engine, work = fake_mlp
    assert engine.dialect == os.environ["MLP_DIALECT"]
    assert engine.dialect == engine.dialect  # probed once
    assert _calls(work) == [["list"]]
    with pytest.raises(IonflowInputError, match="neither calc-grade"):
        probe_dialect("mlp serial version\nList of available commands:\n    train: fits\n")


def test_mlp_train_command_line_replayed(fake_mlp, li2s_labelled_cfg):
    engine, work = fake_mlp
    (work / "init.mtp").write_text(untrained_mtp_text(8, 2, 1.9, 5.0, 8))
    (work / "train.cfg").write_text(li2s_labelled_cfg)
    out = engine.train(
        work / "init.mtp",
        work / "train.cfg",
        work / "trained.mtp",
        LI2S_SPECIES,
        FitWeights(100, 1, 0.01),
        250,
        0,
    )
    assert out == work / "trained.mtp"
    motep_api.read_potential(out, LI2S_SPECIES)  # a plain .mtp every engine reads
    call = _calls(work)[-1]
    assert call[:3] == ["train", str(work / "init.mtp"), str(work / "train.cfg")]
    if engine.dialect == "mlip2":
        assert "--stress-weight=0.01" in call and "--max-iter=250" in call
        assert f"--trained-pot-name={work / 'trained.mtp'}" in call
        assert not (work / "trained.almtp").exists()
    else:
        assert "--stress_weight=0.01" in call and "--iteration_limit=250" in call
        assert f"--save_to={work / 'trained.almtp'}" in call and "--al_mode=nbh" in call
        assert "#MVS_v1.1" not in out.read_text()
        almtp = (work / "trained.almtp").read_bytes()
        assert almtp.startswith(out.read_bytes().rstrip()) and b"#MVS_v1.1" in almtp


def test_mlp_efs_grade_and_select_add_replayed(fake_mlp, li2s_labelled_cfg):
    engine, work = fake_mlp
    (work / "in.cfg").write_text(li2s_labelled_cfg)
    (work / "pot.mtp").write_text(untrained_mtp_text(8, 2, 1.9, 5.0, 8))
    pot, cfg = work / "pot.mtp", work / "in.cfg"
    efs = engine.calc_efs(pot, cfg, work / "out.cfg", LI2S_SPECIES)
    assert len(read_labelled_cfg(efs, LI2S_SPECIES)) == 30
    grades = engine.calc_grade(pot, cfg, cfg, work / "graded.cfg")
    assert grades == RECORDED_GRADES
    new = engine.select_add(pot, cfg, cfg, work / "new.cfg", LI2S_SPECIES)
    assert len(read_labelled_cfg(new, LI2S_SPECIES)) == 1
    assert not list(work.glob("*.cfg.0"))  # MLIP-3 rank files merged
    calls = _calls(work)[1:]  # after the probe
    if engine.dialect == "mlip2":
        assert calls == [
            ["calc-efs", str(pot), str(cfg), str(work / "out.cfg")],
            ["calc-grade", str(pot), str(cfg), str(cfg), str(work / "graded.cfg")],
            ["select-add", str(pot), str(cfg), str(cfg), str(work / "new.cfg")],
        ]
        assert (work / "state.als").exists()  # for LAMMPS mlip.ini select:load-state
        return
    almtp = str(work / "pot.almtp")
    active_set = ["train", str(pot), str(cfg), f"--save_to={almtp}", "--iteration_limit=0",
                  "--no_mindist_update=true", "--al_mode=nbh"]  # fmt: skip
    assert calls == [
        ["calculate_efs", str(pot), str(cfg), f"--output_filename={work / 'out.cfg'}"],
        active_set,
        ["calculate_grade", almtp, str(cfg), str(work / "graded.cfg")],
        active_set,
        ["select_add", almtp, str(cfg), str(cfg), str(work / "new.cfg")],
    ]


def test_mlp_usage_error_with_exit_code_0_is_an_error_replayed(fake_mlp):
    engine, work = fake_mlp
    with pytest.raises(RuntimeError, match=r"wrote no out\.cfg: Error: command nope"):
        engine._run_for(work / "out.cfg", ["nope"], work)


def test_rank_files_of_an_mpi_build_are_interleaved(tmp_path):
    def cfg(i: int) -> str:
        return f"BEGIN_CFG\n Size\n 1\n Feature   ID\t{i}\nEND_CFG\n\n"

    # 5 configurations on 2 ranks: rank r holds configurations r, r+2, ...
    (tmp_path / "out.cfg.0").write_text(cfg(0) + cfg(2) + cfg(4))
    (tmp_path / "out.cfg.1").write_text(cfg(1) + cfg(3))
    merged = gather_rank_files(tmp_path / "out.cfg").read_text()
    assert [int(i) for i in re.findall(r"ID\t(\d+)", merged)] == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cfg"]


def test_mlp_failure_and_missing_binary(tmp_path):
    with pytest.raises(IonflowInputError, match="not found"):
        MlpEngine(command="/nonexistent/mlp", mpi_prefix="")._run(["train"], tmp_path)
    with pytest.raises(IonflowInputError, match="unknown MTP engine"):
        get_engine("vasp")


def test_mlip_ini_matches_reference(tmp_path):
    path = write_mlip_ini(tmp_path, gamma_select=2.0, gamma_break=10.0)
    assert path.read_text() == (DATA / "mlip.ini").read_text()


def test_mlip3_pair_style_matches_reference():
    """MLIP-3's interface: settings as key=value words, selection with the .almtp's active set."""
    line = mlip3_pair_style("pot.almtp", gamma_select=2.0, gamma_break=10.0)
    assert line + "\n" == (DATA / "pair_style_mlip3.lammps").read_text()
    assert mlip3_pair_style("pot.mtp", select=False) == "pair_style mlip load_from=pot.mtp"
