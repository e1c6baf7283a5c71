"""report.html: its warnings, its plots, and the page of a real run (in test_pipeline_e2e)."""

from __future__ import annotations

import math

import matplotlib.image
import numpy as np
import pytest
from tests.fixtures.browser import assert_every_number_finite, page_text_without_images

from ionflow.analysis.plotting import plot_configuration_conductivity
from ionflow.learning.plotting import plot_active_learning_history
from ionflow.learning.schemas.active_learning import ActiveLearningIteration
from ionflow.mtp.schemas.fit import ErrorStats, SplitErrors
from ionflow.pipeline.html_report import ReportTargets, WorkflowDocuments, report_warnings
from ionflow.pipeline.report import ConfigurationResult, PipelineReportDocument


def _report(
    oracle: str, level: str, energy: float, forces: float, intervals
) -> PipelineReportDocument:
    configurations = [
        ConfigurationResult(
            index=k,
            formula="Li6PS5Cl",
            n_atoms=52,
            weight=1 / len(intervals),
            Ea_eV=0.3,
            Ea_err_eV=0.02,
            sigma300_mS_cm=math.sqrt(lo * hi),
            sigma300_ci_mS_cm=(lo, hi),
        )
        for k, (lo, hi) in enumerate(intervals)
    ]
    return PipelineReportDocument(
        name="t",
        material="Li6PS5Cl",
        oracle=oracle,
        level_of_theory=level,
        n_labelled=10,
        mtp_level=8,
        mtp_r_cut_A=5.0,
        validation_energy_rmse_meV_atom=energy,
        validation_force_rmse_eV_A=forces,
        extrapolation_K=300.0,
        configurations=configurations,
        sigma_bulk_mS_cm=1.0,
        crystallinity=0.8,
        sigma_bulk_crystallinity_mS_cm=0.8,
    )


def test_warnings_name_level_of_theory_errors_and_overlapping_configurations():
    bad = _report("chgnet", "PBE", 76.6, 0.586, [(0.735, 37.9), (0.0654, 2.24), (50.0, 80.0)])
    warnings = report_warnings(WorkflowDocuments("f", bad), ReportTargets())
    text = "\n".join(warnings)
    assert len(warnings) == 4, text
    assert "chgnet at PBE, not at the published level of theory (VASP optB88-vdW)" in text
    assert "76.6 meV/atom is above the target 10 meV/atom" in text
    assert "0.586 eV/Å is above the target 0.2 eV/Å" in text
    assert "configurations 0 and 1 overlap" in text  # 2 is apart from both
    good = _report("vasp", "optB88-vdW", 8.0, 0.15, [(0.5, 2.0), (3.0, 9.0)])
    assert report_warnings(WorkflowDocuments("f", good), ReportTargets()) == []
    # targets are settings
    strict = report_warnings(WorkflowDocuments("f", good), ReportTargets(5.0, 0.1))
    assert len(strict) == 2 and "above the target 5 meV/atom" in strict[0]


def _has_ink(path) -> bool:
    image = matplotlib.image.imread(path)
    return float(np.std(image[..., :3])) > 0.01


def _iterations() -> list[ActiveLearningIteration]:
    errors = SplitErrors(
        energy_per_atom=ErrorStats(mae=0.01, rmse=0.014, n=5),
        forces=ErrorStats(mae=0.1, rmse=0.2, n=500),
    )
    return [
        ActiveLearningIteration(
            iteration=k,
            n_graded=40,
            grade_max=g_max,
            grade_percentiles={"p50": 1.1, "p90": 2.0, "p99": g_max / 2},
            runs_stopped=1,
            n_candidates=n,
            n_already_labelled=0,
            n_duplicates=0,
            n_selected=n // 2,
            n_labelled=n // 2,
            validation_errors=errors if k else None,
            explore_time_s=1.0,
            select_time_s=0.1,
        )
        for k, (g_max, n) in enumerate([(40.0, 12), (6.0, 4), (1.8, 0)])
    ]


def test_active_learning_history_and_conductivity_plots(tmp_path):
    iterations = _iterations()
    history = plot_active_learning_history(iterations, tmp_path / "al.png", title="AL")
    assert history.stat().st_size > 20_000 and _has_ink(history)
    sigma = plot_configuration_conductivity(
        ["c0", "c1", "σ_bulk"],
        [5.3, 0.38, 2.8],
        [(0.735, 37.9), (0.0654, 2.24), (0.56, 19.4)],
        tmp_path / "sigma.png",
    )
    assert sigma.stat().st_size > 10_000 and _has_ink(sigma)


def test_workflow_resolves_from_fireworks_id_name_and_uuid(launchpad, jobstore):
    from jobflow import Flow, job
    from jobflow.managers.fireworks import flow_to_workflow

    from ionflow.errors import IonflowInputError
    from ionflow.pipeline.html_report import resolve_flow_uuid

    first = job(math.sqrt)(4.0)
    second = job(math.sqrt)(first.output)
    flow = Flow([first, second], name="resolve-me")
    launchpad.add_wf(flow_to_workflow(flow, store=jobstore))
    fw_ids = [fw["fw_id"] for fw in launchpad.fireworks.find({}, {"fw_id": 1})]
    for workflow in (str(fw_ids[0]), str(fw_ids[-1]), "resolve-me"):
        assert resolve_flow_uuid(jobstore, workflow, launchpad) == flow.uuid
    with pytest.raises(IonflowInputError, match="no workflow report stored yet"):
        resolve_flow_uuid(jobstore, None)
    with pytest.raises(IonflowInputError, match="no workflow 'nope' on the LaunchPad"):
        resolve_flow_uuid(jobstore, "nope", launchpad)


def test_browser_check_sees_broken_images_and_script_errors(tmp_path, open_in_chromium):
    """The check the e2e test runs on report.html can fail: a broken plot, a script error."""
    import base64

    from ionflow.analysis.plotting import plot_configuration_conductivity

    png = plot_configuration_conductivity(["c0"], [1.0], [(0.5, 2.0)], tmp_path / "ok.png")
    good = base64.b64encode(png.read_bytes()).decode()
    page = tmp_path / "page.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>t</title></head><body>"
        f'<img alt="good" src="data:image/png;base64,{good}">'
        '<img alt="broken" src="data:image/png;base64,iVBORw0KGgoAAAA">'
        "<script>undefinedFunction();</script></body></html>"
    )
    seen = open_in_chromium(page, height=800)
    assert seen.n_images == 2 and seen.not_loaded == ["broken"]
    assert seen.widths[0] > 300
    assert any("undefinedFunction" in error for error in seen.errors), seen.errors
    assert seen.screenshot.stat().st_size > 5_000


def test_page_of_documents_with_active_learning(tmp_path, open_in_chromium):
    from ionflow.pipeline.html_report import write_report_html

    report = _report("chgnet", "PBE", 76.6, 0.586, [(0.735, 37.9), (0.0654, 2.24)])
    report.sigma_bulk_interval_mS_cm = (0.56, 19.4)
    report.sigma_bulk_crystallinity_interval_mS_cm = (0.45, 15.5)
    active = {
        "iterations": [it.model_dump() for it in _iterations()],
        "stop_reason": "an MD run selected nothing",
        "mtp": "MTP\nversion = 1.1.0\n",
        "labelled_set": {"cfg_text": "BEGIN_CFG\nEND_CFG\n"},
    }
    documents = WorkflowDocuments("flow-uuid", report, active=active)
    page = write_report_html(documents, tmp_path / "out", ReportTargets(10.0, 0.2))
    html = page.read_text(encoding="utf-8")
    assert assert_every_number_finite(html) > 50
    text = page_text_without_images(html)
    assert "3 iterations; an MD run selected nothing." in text
    assert "AL iteration 2: held-out" in text  # errors of the refits on the held-out set
    assert "configurations 0 and 1 overlap" in text
    assert "1 [0.56, 19.4] mS/cm (95 %)" in text
    assert list((tmp_path / "out").iterdir()) == [page]  # one file, plots inside it
    seen = open_in_chromium(page)
    assert seen.n_images == 2 and seen.not_loaded == [] and seen.errors == [], seen


def _volume_study():
    from ionflow.analysis.schemas.regions import SiteDocument
    from ionflow.pipeline.llzo_volumes import VolumeRun, VolumeStudyDocument

    sites = SiteDocument(
        n_sites=120, sites_from="density", n_jumps=40, jumps_per_atom=0.8,
        back_jump_fraction=0.64, mean_residence_time_ps=1.5, graph_order_parameter=-12.5,
        n_visited_sites=100, n_subgraphs=3, largest_subgraph_fraction=0.9,
    )  # fmt: skip
    runs = [
        VolumeRun(
            configuration=0,
            formula="Li25(La6Zr4O3)4",
            cell=cell,
            volume_fraction=fraction,
            density_g_cm3=5.05 / fraction,
            n_atoms=186,
            structure_potential=made_by,
            md_potential=potential,
            temperature_K=1100.0,
            D_run_cm2_s=None if fraction == 1.3 else 2e-5 * fraction,
            D_run_err_cm2_s=2e-6,
            D_fit_cm2_s=2e-5,
            D_fit_ci_cm2_s=(1e-5, 4e-5),
            Ea_eV=0.29,
            Ea_err_eV=0.03,
            linear_regime_found=True,
            sites=sites,
            temperatures_K=[700.0, 1100.0],
        )
        for cell, made_by, fraction in [
            ("crystalline", None, 0.9),
            ("crystalline", None, 1.3),
            ("amorphous", "classical", 1.1),
        ]
        for potential in ("mtp", "classical")
    ]
    return VolumeStudyDocument(
        temperature_K=1100.0, classical_potential="llzo-buckingham",
        classical_reference="Kozinsky et al.", runs=runs, notes=["a note for the reader"],
    )  # fmt: skip


def test_volume_study_block_and_figure_only_with_its_document(tmp_path):
    from ionflow.pipeline.html_report import render_report_html
    from ionflow.pipeline.llzo_volumes_plot import plot_volume_study

    study = _volume_study()
    figure = plot_volume_study(study, tmp_path / "v.png")
    assert figure.stat().st_size > 20_000 and _has_ink(figure)
    report = _report("chgnet", "PBE", 5.0, 0.1, [(0.5, 2.0)])
    html = render_report_html(
        WorkflowDocuments("f", report, volume_study=study.model_dump(mode="json"))
    )
    text = page_text_without_images(html)
    assert "D(1100 K) and E_a against volume" in text
    assert "llzo-buckingham (Kozinsky et al.)" in text
    assert text.count("Li25(La6Zr4O3)4") == 6  # one row per cell and MD potential
    assert "130 %" in text and "amorphous" in text and "-12.5" in text
    assert "a note for the reader" in text
    assert 'alt="D and E_a against volume"' in html
    assert_every_number_finite(html)
    without = render_report_html(WorkflowDocuments("f", report))
    assert "against volume" not in without


def test_site_reports_follow_the_comparison_order_by_their_label():
    from ionflow.pipeline.html_report import site_reports_in_order

    first = _report("chgnet", "PBE", 5.0, 0.1, [(0.5, 2.0)]).model_copy(update={"name": "w Li@1a"})
    second = first.model_copy(update={"name": "w Li@24k"})
    assert site_reports_in_order([second, first], ["1a", "24k"]) == [first, second]
    assert site_reports_in_order([first], ["1a", "24k"]) == [first]  # a site without a report
