"""`ionflow results` on the real embedded database: the answers read back from JobStore.

The outputs are stored as jobflow stores them (``outputs`` + GridFS ``outputs_blobs``,
``.mtp`` and ``.cfg`` text as blobs) for the jobs of a workflow on the LaunchPad; the
report is computed by the pipeline's own report function. The whole path through a real
pipeline run is tests/pipeline/test_cluster_e2e.py.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from jobflow import Flow, Job
from jobflow.managers.fireworks import flow_to_workflow
from monty.json import jsanitize
from typer.testing import CliRunner

from ionflow.analysis.schemas.diffusion import ArrheniusDocument, TemperatureResult
from ionflow.dft.schemas.labels import LabelledSetDocument
from ionflow.io.labelled_set import LABELLED_SET_DATA_FIELDS, LabelledSet
from ionflow.mtp.schemas.fit import ErrorStats, MtpFitDocument, SplitErrors
from ionflow.pipeline.report import PipelineReportMaker
from ionflow.pipeline.results import workflow_results

MTP_TEXT = "MTP\nversion = 1.1.0\npotential_name = test\nspecies_count = 1\n"


def _labelled_set() -> LabelledSet:
    rng = np.random.default_rng(3)
    images = []
    for i in range(3):
        atoms = Atoms("Li2", positions=[[0, 0, 0], [1.5 + 0.1 * i, 1.5, 1.5]], cell=[4, 4, 4])
        atoms.pbc = True
        forces = rng.normal(0, 0.1, (2, 3))
        atoms.calc = SinglePointCalculator(atoms, energy=-3.0 - 0.01 * i, forces=forces)
        images.append(atoms)
    return LabelledSet(images, oracle="chgnet", level_of_theory="PBE", species=["Li"])


def _split(energy_eV: float, force_eV_A: float) -> SplitErrors:
    return SplitErrors(
        energy_per_atom=ErrorStats(mae=energy_eV, rmse=1.5 * energy_eV, n=3),
        forces=ErrorStats(mae=force_eV_A, rmse=1.5 * force_eV_A, n=18),
    )


def _fit() -> MtpFitDocument:
    return MtpFitDocument(
        level=8, r_cut=5.0, min_dist=1.5, radial_basis_size=8, species=["Li"],
        weights=(100.0, 1.0, 0.0), max_iter=10, seed=1, warm_start=False, n_train=2,
        n_validation=1, train_errors=_split(0.002, 0.03), validation_errors=_split(0.004, 0.05),
        fit_time_s=1.0, evaluation_time_per_atom_step_s=1e-5, engine="motep",
        oracle="chgnet", level_of_theory="PBE", versions={}, mtp=MTP_TEXT,
    )  # fmt: skip


def _arrhenius(Ea_eV: float) -> ArrheniusDocument:
    temperatures = [
        TemperatureResult(
            temperature_K=T, D_cm2_s=1e-3 * np.exp(-Ea_eV / (8.617e-5 * T)),
            D_err_cm2_s=1e-7, sigma_mS_cm=10.0, sigma_err_mS_cm=1.0, n_runs=2, runs=[],
        )
        for T in (500.0, 600.0)
    ]  # fmt: skip
    return ArrheniusDocument(
        species="Li", Ea_eV=Ea_eV, Ea_err_eV=0.02, D0_cm2_s=1e-3, D300_cm2_s=1e-8,
        D300_ci_cm2_s=(5e-9, 2e-8), sigma300_mS_cm=1.2, sigma300_ci_mS_cm=(0.6, 2.4),
        temperatures=temperatures,
    )  # fmt: skip


def _store_outputs(launchpad, jobstore, outputs: list, name: str = "answers") -> int:
    """Add a workflow of one job per output; store each output as jobflow's Job.run does."""
    jobs = [Job(function=print, name=f"job-{i}") for i in range(len(outputs))]
    mapping = launchpad.add_wf(flow_to_workflow(Flow(jobs, name=name)))
    for job, output in zip(jobs, outputs, strict=True):
        data = {
            "uuid": job.uuid,
            "index": 1,
            "output": jsanitize(output, strict=True, enum_values=True, allow_bson=True),
        }
        save = {"data": [*LABELLED_SET_DATA_FIELDS, "mtp"]}
        jobstore.update(data, key=["uuid", "index"], save=save)
    return min(mapping.values())


def test_results_before_the_report_and_the_stored_hashes(launchpad, jobstore):
    labelled = LabelledSetDocument(labelled_set=_labelled_set(), n_requested=3, n_labelled=3)
    wf_id = _store_outputs(launchpad, jobstore, [labelled, _fit(), _arrhenius(0.3)])
    raw = jobstore.docs_store.query_one({"output.@class": "MtpFitDocument"})
    assert "blob_uuid" in raw["output"]["mtp"]  # the .mtp text is in GridFS, not the document

    (answer,) = workflow_results(launchpad, jobstore, str(wf_id))
    assert answer.workflow_id == wf_id and answer.oracle == "chgnet"
    assert answer.potential_sha256 == hashlib.sha256(MTP_TEXT.encode()).hexdigest()
    cfg_text = _labelled_set().cfg_text()
    assert answer.training_set_sha256 == hashlib.sha256(cfg_text.encode()).hexdigest()
    assert answer.n_training == 3
    assert answer.mtp.errors_of == "validation"
    assert answer.mtp.validation_energy_mae_meV_atom == pytest.approx(4.0)
    assert answer.mtp.validation_force_rmse_eV_A == pytest.approx(0.075)
    (config,) = answer.configurations
    assert config.Ea_eV == 0.3 and config.sigma300_ci_mS_cm == (0.6, 2.4)
    assert [t.temperature_K for t in config.temperatures] == [500.0, 600.0]
    assert config.temperatures[0].D_cm2_s < config.temperatures[1].D_cm2_s
    assert answer.sigma_bulk_mS_cm is None and "no pipeline report yet" in answer.notes[0]


def test_results_cli_from_the_pipeline_report(launchpad, jobstore, db_uri, monkeypatch):
    from ionflow.cli.main import app

    labelled = LabelledSetDocument(labelled_set=_labelled_set(), n_requested=3, n_labelled=3)
    fit, arrhenius = _fit(), [_arrhenius(0.3), _arrhenius(0.25)]
    maker = PipelineReportMaker(
        workflow_name="answers", material="Li6PS5Cl", target_force_rmse_eV_A=0.05
    )  # the fit misses that target: a warning
    report = maker.make.original(maker, [], arrhenius, fit, labelled)
    wf_id = _store_outputs(launchpad, jobstore, [labelled, fit, *arrhenius, report])
    _store_outputs(launchpad, jobstore, [fit], name="other")

    monkeypatch.setenv("IONFLOW_DB_URI", db_uri)
    monkeypatch.setattr("ionflow.settings.SETTINGS_CACHE", {})
    result = CliRunner().invoke(app, ["results", str(wf_id + 1), "--json"])  # any of its ids
    assert result.exit_code == 0, result.output
    (answer,) = json.loads(result.output)
    assert answer["name"] == "answers" and answer["material"] == "Li6PS5Cl"
    assert answer["sigma_bulk_mS_cm"] == pytest.approx(report.sigma_bulk_mS_cm)
    low, high = answer["sigma_bulk_interval_mS_cm"]
    assert low < answer["sigma_bulk_mS_cm"] < high
    assert list(report.sigma_bulk_interval_mS_cm) == [low, high]
    assert answer["mixing_rule"] == "parallel" and answer["crystallinity"] == 0.8
    assert [c["weight"] for c in answer["configurations"]] == [0.5, 0.5]
    assert [c["Ea_eV"] for c in answer["configurations"]] == [0.3, 0.25]
    assert answer["potential_sha256"] == hashlib.sha256(MTP_TEXT.encode()).hexdigest()
    assert any("not by the published VASP" in note for note in answer["notes"])
    assert any(note.startswith("WARNING: MTP held-out") for note in answer["notes"])

    table = CliRunner().invoke(app, ["results"])
    assert table.exit_code == 0, table.output
    assert "workflow 1: answers" in table.output and "other" in table.output
    assert "0.300 ± 0.020" in table.output and "1.2 [0.6, 2.4]" in table.output
    line = next(line for line in table.output.splitlines() if "σ_bulk at 300 K" in line)
    assert f"{report.sigma_bulk_mS_cm:.3g} [{low:.3g}, {high:.3g}] mS/cm" in line
    missing = CliRunner().invoke(app, ["results", "999"])
    assert "no workflow '999'" in str(missing.exception)


def test_one_collector_loads_only_the_projected_fields_and_data(launchpad, jobstore):
    from ionflow.pipeline.results import OutputProjection, stored_outputs

    labelled = LabelledSetDocument(labelled_set=_labelled_set(), n_requested=3, n_labelled=3)
    _store_outputs(launchpad, jobstore, [labelled, _fit(), _arrhenius(0.3)])
    uuids = [doc["uuid"] for doc in jobstore.query({}, properties=["uuid"])]
    projections = {
        "LabelledSetDocument": OutputProjection(("labelled_set", "n_labelled"), ("cfg_text",)),
        "MtpFitDocument": OutputProjection(("level", "mtp")),  # the .mtp stays a reference
    }
    stored = stored_outputs(jobstore, {"uuid": {"$in": uuids}}, projections, uuids)
    assert [job["class"] for job in stored.jobs] == [
        "LabelledSetDocument", "MtpFitDocument", "ArrheniusDocument",
    ]  # fmt: skip
    (labelled_out,) = stored.outputs("LabelledSetDocument")
    assert set(labelled_out) == {"labelled_set", "n_labelled"}  # nothing else read
    assert labelled_out["labelled_set"]["cfg_text"].lstrip().startswith("BEGIN_CFG")
    assert "blob_uuid" in labelled_out["labelled_set"]["image_provenance"]  # not loaded
    (fit_out,) = stored.outputs("MtpFitDocument")
    assert set(fit_out) == {"level", "mtp"} and "blob_uuid" in fit_out["mtp"]
    assert "ArrheniusDocument" not in stored.by_class  # listed, never read


def test_projections_name_fields_of_their_classes():
    from ionflow.analysis.schemas.diffusion import ArrheniusDocument
    from ionflow.learning.schemas.active_learning import ActiveLearningDocument
    from ionflow.md.schemas.md import MdTaskDoc
    from ionflow.pipeline.grain_boundary_report import GrainBoundaryReportDocument
    from ionflow.pipeline.html_report import HTML_PROJECTIONS
    from ionflow.pipeline.llzo_volumes import VolumeStudyDocument
    from ionflow.pipeline.report import PipelineReportDocument
    from ionflow.pipeline.results import RESULTS_PROJECTIONS
    from ionflow.pipeline.site_comparison import SiteComparisonDocument

    schemas = {
        cls.__name__: cls
        for cls in (
            ArrheniusDocument, ActiveLearningDocument, LabelledSetDocument, MdTaskDoc,
            MtpFitDocument, PipelineReportDocument, GrainBoundaryReportDocument,
            VolumeStudyDocument, SiteComparisonDocument,
        )
    }  # fmt: skip
    for projections in (RESULTS_PROJECTIONS, HTML_PROJECTIONS):
        for name, projection in projections.items():
            fields = set(schemas[name].model_fields)
            assert set(projection.fields) <= fields, name  # a renamed field would vanish
            if projection.fields:  # data fields are read fields (cfg_text: in labelled_set)
                assert set(projection.data) <= set(projection.fields) | {"cfg_text"}, name
