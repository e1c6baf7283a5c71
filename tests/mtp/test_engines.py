"""The mlp engine (replayed by a stand-in executable) and LAMMPS+mlip inputs."""

import sys
from pathlib import Path

import pytest
from tests.fixtures.mtp import LI2S_SPECIES

from ionflow.errors import IonflowInputError
from ionflow.io.mlip_cfg import read_labelled_cfg
from ionflow.io.mlip_ini import write_mlip_ini
from ionflow.mtp.run import FitWeights, MlpEngine, get_engine
from ionflow.mtp.templates import untrained_mtp_text

DATA = Path(__file__).parents[1] / "data" / "mtp"


@pytest.fixture
def fake_mlp(tmp_path, monkeypatch, li2s_labelled_cfg):
    replay = tmp_path / "replay"
    replay.mkdir()
    (replay / "trained.mtp").write_text(untrained_mtp_text(8, 2, 1.9, 5.0, 8))
    (replay / "selected.cfg").write_text(li2s_labelled_cfg.split("END_CFG")[0] + "END_CFG\n")
    monkeypatch.setenv("MLP_REPLAY_DIR", str(replay))
    monkeypatch.setenv("MLP_CALL_LOG", str(tmp_path / "calls.log"))
    engine = MlpEngine(command=f"{sys.executable} {DATA / 'fake_mlp.py'}", mpi_prefix="")
    return engine, tmp_path


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
    assert out.read_text().startswith("MTP")
    call = (work / "calls.log").read_text().split()
    assert call[:3] == ["train", str(work / "init.mtp"), str(work / "train.cfg")]
    assert "--stress-weight=0.01" in call and "--max-iter=250" in call
    assert f"--trained-pot-name={work / 'trained.mtp'}" in call


def test_mlp_efs_and_select_add_replayed(fake_mlp, li2s_labelled_cfg):
    engine, work = fake_mlp
    (work / "in.cfg").write_text(li2s_labelled_cfg)
    efs = engine.calc_efs(work / "pot.mtp", work / "in.cfg", work / "out.cfg", LI2S_SPECIES)
    assert len(read_labelled_cfg(efs, LI2S_SPECIES)) == 30
    new = engine.select_add(
        work / "pot.mtp", work / "in.cfg", work / "in.cfg", work / "new.cfg", LI2S_SPECIES
    )
    assert len(read_labelled_cfg(new, LI2S_SPECIES)) == 1
    calls = (work / "calls.log").read_text().splitlines()
    assert calls[1].split()[0] == "select-add" and len(calls[1].split()) == 5


def test_mlp_failure_and_missing_binary(tmp_path):
    with pytest.raises(IonflowInputError, match="not found"):
        MlpEngine(command="/nonexistent/mlp", mpi_prefix="")._run(["train"], tmp_path)
    with pytest.raises(IonflowInputError, match="unknown MTP engine"):
        get_engine("vasp")


def test_mlip_ini_matches_reference(tmp_path):
    path = write_mlip_ini(tmp_path, gamma_select=2.0, gamma_break=10.0)
    assert path.read_text() == (DATA / "mlip.ini").read_text()
