"""`ionflow dft label` and `ionflow dft levels`."""

from __future__ import annotations

import json
import sys

import pytest

from ionflow.cli.errors import run_cli
from ionflow.cli.main import app
from ionflow.io.mlip_cfg import parse_labelled_cfg_text
from tests.fixtures.dft import make_li2s


def _ionflow(monkeypatch, *args) -> int:
    monkeypatch.setattr(sys, "argv", ["ionflow", *args])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(app)
    return exit_info.value.code


@pytest.mark.slow
def test_dft_label_writes_cfg_extxyz_summary_and_plot(tmp_path, monkeypatch, capsys):
    files = []
    for i, a in enumerate((5.6, 5.8)):
        path = tmp_path / f"POSCAR_{i}"
        make_li2s(a=a, primitive=True).to(filename=str(path), fmt="poscar")
        files.append(str(path))
    out = tmp_path / "labelled"
    code = _ionflow(monkeypatch, "dft", "label", *files, "--oracle", "chgnet", "--out", str(out))
    assert code == 0
    summary = json.loads((out / "labelled_set.json").read_text())
    assert summary["oracle"] == "chgnet" and summary["n_labelled"] == 2
    images = parse_labelled_cfg_text((out / "labelled_set.cfg").read_text(), summary["species"])
    assert images[0].get_potential_energy() != images[1].get_potential_energy()
    assert (out / "labelled_set.png").stat().st_size > 1000
    assert "labelled by chgnet" in capsys.readouterr().err


def test_dft_label_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    path = tmp_path / "POSCAR"
    make_li2s(primitive=True).to(filename=str(path), fmt="poscar")
    assert _ionflow(monkeypatch, "dft", "label", str(path), "--level", "HSE06") == 2
    assert "unknown level of theory 'HSE06'" in capsys.readouterr().err
    code = _ionflow(monkeypatch, "dft", "label", str(path), "--oracle", "chgnet",
                    "--level", "optB88-vdW")  # fmt: skip
    assert code == 2 and "cannot compute optB88-vdW" in capsys.readouterr().err
    assert _ionflow(monkeypatch, "dft", "label", str(tmp_path / "missing")) == 2
