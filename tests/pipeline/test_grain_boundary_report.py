"""The GB report on a constructed trajectory: slow GB slab, fast far slab, known ratio."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from tests.fixtures.analysis import random_walk

from ionflow.analysis.displacements import from_positions
from ionflow.analysis.schemas.diffusion import DiffusionDocument
from ionflow.analysis.schemas.regions import RegionDocument
from ionflow.io.labelled_set import LabelledSet
from ionflow.pipeline.grain_boundary_report import (
    GrainBoundaryReportMaker,
    grain_boundary_answer,
    grain_boundary_page,
    grain_boundary_rows,
    is_grain_boundary_job,
)

DT_FS = 20.0


def _labelled(sizes: list[int]) -> LabelledSet:
    from ase.calculators.singlepoint import SinglePointCalculator

    images = [
        Atoms("Li" * n, positions=np.arange(3 * n).reshape(n, 3), cell=[50] * 3, pbc=True)
        for n in sizes
    ]
    for atoms in images:
        atoms.calc = SinglePointCalculator(
            atoms, energy=-1.0 * len(atoms), forces=np.zeros((len(atoms), 3)), stress=np.zeros(6)
        )
    return LabelledSet(images, "chgnet", "PBE", ["Li"])


def test_report_compares_gb_with_the_farthest_region_and_says_which(tmp_path):
    n_per, n_frames = 20, 400
    D_gb, D_far = 2e-5, 2e-4  # Å^2/fs in-plane
    gb = random_walk(n_per, n_frames, (D_gb, D_gb, 0.0), DT_FS, seed=1)
    far = random_walk(n_per, n_frames, (D_far, D_far, 0.0), DT_FS, seed=2)
    gb[..., 2] = np.random.default_rng(3).uniform(-4, 4, n_per)  # GB slab
    far[..., 2] = np.random.default_rng(4).uniform(22, 28, n_per)  # Far_GB slab (20-30 Å)
    walk = np.concatenate([gb, far], axis=1)
    traj = from_positions(walk, np.arange(n_frames) * DT_FS, np.diag([30.0, 30.0, 60.0]))
    diffusion = DiffusionDocument.from_species_trajectory(traj, 500.0)
    diffusion.regions = RegionDocument.from_species_trajectory(traj, [0.0], 2, 10.0)
    function = GrainBoundaryReportMaker.make.original
    maker = GrainBoundaryReportMaker(temperature_K=500.0, oracle="chgnet", level_of_theory="PBE")
    record = {"n_atoms": 40, "volume": 54000.0}
    iterations = [
        {"n_selected": 2, "n_labelled": 2, "grade_max": 12.0},
    ]
    doc = function(
        maker,
        diffusion,
        record,
        iterations,
        "no more",
        3,
        iterations,
        "max",
        _labelled([5, 5, 5, 7]),
    )
    assert [r.region for r in doc.regions] == ["GB", "Far_GB"]
    assert doc.regions_not_resolved == ["Near_GB", "Bulk"] and doc.reference_region == "Far_GB"
    expected = D_gb / D_far
    assert doc.D_GB_over_bulk == pytest.approx(expected, abs=4 * doc.D_GB_over_bulk_err)
    assert 0 < doc.D_GB_over_bulk_err < expected
    assert doc.region_distance_A == [5.0, 25.0]
    assert doc.largest_labelled_cell_atoms == 7  # what the GB loop added (after 3 surface)
    assert doc.relative_counts["GB"][0] == 1.0 and "Near_GB" not in doc.relative_counts
    notes = " ".join(doc.notes)
    assert "no Bulk region" in notes and "350 K" in notes and "chgnet" in notes
    assert doc.published_ratio == pytest.approx(0.3)
    rows = dict(grain_boundary_rows(grain_boundary_answer(doc.model_dump())))
    assert rows["D_GB / D_bulk"].startswith(f"{doc.D_GB_over_bulk:.3g} ±")
    # report.html's section: the figure of D and density against distance, Li over time
    page = grain_boundary_page(doc.model_dump(), tmp_path)
    assert page["doc"].D_GB_over_bulk == doc.D_GB_over_bulk and len(page["png"]) > 10_000
    assert grain_boundary_page(None, tmp_path) is None
    assert is_grain_boundary_job("grain boundary md") and is_grain_boundary_job(
        "surface active learning"
    )
    assert not is_grain_boundary_job("active learning") and not is_grain_boundary_job(None)
    # `ionflow run`'s table: every resolved region's D and error, the unresolved ones named
    from rich.console import Console

    from ionflow.cli.study_tables import grain_boundary_table

    console = Console(record=True, width=200)
    console.print(grain_boundary_table(doc.model_dump()))
    text = console.export_text()
    for region in doc.regions:
        assert f"{region.D_cm2_s:.3g}" in text and f"{region.D_err_cm2_s:.2g}" in text
    assert "Near_GB" in text and "not resolved" in text and "published 0.3" in text
    assert f"D_GB / D_Far_GB │ {doc.D_GB_over_bulk:.3g}" in text


def test_a_failed_production_md_leaves_a_report_of_the_model_and_loops(tmp_path):
    """The GB MD lost atoms (its diffusion job got no trajectory): no D, a warning; its
    table and report.html section say so instead of failing."""
    from rich.console import Console
    from tests.pipeline.test_failed_runs import _report

    from ionflow.cli.study_tables import grain_boundary_table
    from ionflow.pipeline.html_report import render_report_html

    maker = GrainBoundaryReportMaker(temperature_K=350.0)
    iterations = [{"n_selected": 2, "n_labelled": 2, "grade_max": 12.0}]
    args = ({"n_atoms": 40, "volume": 54000.0}, iterations, "no more", 3, iterations, "max")
    doc = GrainBoundaryReportMaker.make.original(maker, None, *args, _labelled([5, 5, 5, 7]))
    assert doc.D_cm2_s is None and doc.regions == [] and doc.D_GB_over_bulk is None
    assert doc.run_warnings == [
        "WARNING: grain boundary MD 350 K #1 failed (its MD or analysis job failed, see the "
        "failed jobs): no D per region"
    ]
    assert doc.largest_labelled_cell_atoms == 7 and doc.gb_learning["iterations"] == 1
    console = Console(record=True, width=200)
    console.print(grain_boundary_table(doc.model_dump()))
    assert "MD failed" in console.export_text()
    from ionflow.pipeline.html_report import WorkflowDocuments

    docs = WorkflowDocuments("f", _report([None]), grain_boundary=doc.model_dump())
    html = render_report_html(docs)
    assert doc.run_warnings[0] in html.split('id="warnings"')[1].split("</section>")[0]
    assert "grain boundary regions" not in html  # no figure without a run


def test_the_gb_md_warning_is_one_line_of_the_report():
    n_frames = 200
    walk = random_walk(10, n_frames, (2e-4, 2e-4, 2e-4), DT_FS, seed=5)
    traj = from_positions(walk, np.arange(n_frames) * DT_FS, np.diag([30.0, 30.0, 60.0]))
    diffusion = DiffusionDocument.from_species_trajectory(traj, 350.0)
    diffusion.regions = RegionDocument.from_species_trajectory(traj, [0.0], 2, 10.0)
    diffusion.md_warnings = ["core repulsion active in 4 of 90 thermo rows", "x", "x"]
    iterations = [{"n_selected": 2, "n_labelled": 2, "grade_max": 12.0}]
    maker = GrainBoundaryReportMaker(temperature_K=350.0)
    doc = GrainBoundaryReportMaker.make.original(
        maker, diffusion, {"n_atoms": 10, "volume": 54000.0}, iterations, "no more", 3,
        iterations, "max", _labelled([5, 5, 5, 7]),
    )  # fmt: skip
    assert doc.run_warnings == [
        "grain boundary MD 350 K #1: core repulsion active in 4 of 90 thermo rows; x"
    ]


def test_an_unconverged_gb_loop_is_a_warning_of_the_report():
    """The GB loop's last round still stopped a run: the report warns, the surface loop
    (converged) does not."""
    maker = GrainBoundaryReportMaker(temperature_K=350.0)
    done = [{"n_selected": 0, "n_labelled": 0, "grade_max": 1.5, "runs_stopped": 0}]
    capped = [{"n_selected": 6, "n_labelled": 0, "grade_max": 86.0, "runs_stopped": 1}]
    reason = "reached max_iterations=8; the final potential still stopped 1 of 1 runs"
    args = ({"n_atoms": 40, "volume": 54000.0}, done, "selected 0", 3, capped, reason)
    doc = GrainBoundaryReportMaker.make.original(maker, None, *args, _labelled([5, 5, 5, 7]))
    first, failed = doc.run_warnings
    assert first.startswith("WARNING: grain-boundary active learning did not converge")
    assert reason in first and "86.0" in first and "surface" not in first
    assert failed.startswith("WARNING: grain boundary MD 350 K #1 failed")
