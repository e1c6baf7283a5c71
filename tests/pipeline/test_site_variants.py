"""Site variants (LSTH 1a vs 24k): spec, built Flow, per-temperature MD length, comparison."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from tests.fixtures.analysis import random_walk

from ionflow.analysis.arrhenius import K_B_EV_PER_K
from ionflow.analysis.displacements import from_positions
from ionflow.analysis.schemas.diffusion import ArrheniusDocument, DiffusionDocument
from ionflow.conductivity.flows.core import ConductivityMdFlowMaker
from ionflow.errors import IonflowInputError
from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.pipeline.cost import configuration_atoms, estimate_core_hours
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.report import PUBLISHED, ConfigurationResult, PipelineReportDocument
from ionflow.pipeline.site_comparison import compare_sites, plot_site_arrhenius
from ionflow.pipeline.site_variants import SiteReportsMaker
from ionflow.pipeline.spec import WorkflowSpec, load_spec

WORKFLOWS = Path(__file__).parents[2] / "workflows"
FULL = WORKFLOWS / "lsth_1a_vs_24k.yaml"
TINY = WORKFLOWS / "tiny" / "lsth_1a_vs_24k.yaml"


def _flow_json(data: dict) -> str:
    spec = WorkflowSpec.model_validate(data)
    flow = PipelineMaker.from_spec(spec).make(spec.material)
    text = json.dumps(flow.as_dict(), sort_keys=True, default=str)
    return "".join(part.split('"', 1)[-1] for part in text.split('"uuid": '))  # uuids out


@pytest.mark.parametrize("path", [FULL, TINY], ids=["full", "tiny"])
def test_lsth_site_specs_validate_and_build_with_the_study_settings(path):
    spec = load_spec(path)
    maker = PipelineMaker.from_spec(spec)
    flow = maker.make(spec.material)
    assert [job.name for job in flow.jobs][-1] == "site reports"
    assert isinstance(maker.site_reports_maker, SiteReportsMaker)
    assert maker.site_reports_maker.labels == ["1a", "24k"]
    assert maker.site_reports_maker.materials == ["LSTH-1a", "LSTH-24k"]
    assert maker.configurations_maker.labels == ["1a", "24k"]
    assert [m.kind for m in maker.configurations_maker.makers] == ["esgs", "sqs"]
    assert maker.n_configurations is None  # every variant's structures are kept
    lengths = maker.conductivity_maker.production_ps_by_temperature
    assert len(lengths) == len(spec.md.temperatures_K)
    if path == FULL:  # the study: 10 ns below 400 K, 1 ns below 600 K, 200 ps above
        by_T = dict(zip(spec.md.temperatures_K, lengths, strict=True))
        assert by_T[298] == by_T[328] == 10_000
        assert by_T[400] == by_T[500] == 1_000
        assert by_T[600] == by_T[1500] == 200
        assert spec.dft.encut_eV == 520 and tuple(spec.dft.kpoint_mesh) == (1, 1, 1)
        assert spec.dft.aimd.temperatures_K[0] == 800 and spec.dft.aimd.temperatures_K[-1] == 1500
        assert spec.analysis.extrapolate_to_K == 298
        assert configuration_atoms(spec) == 154  # the paper's 4x4x2 cell
    else:
        assert len(spec.md.temperatures_K) >= 5  # enough for the break search


def test_md_length_per_temperature_reaches_every_md_job():
    md = LammpsMdMaker(production_ps=5.0, heating_ps=0.0)
    flow = ConductivityMdFlowMaker(
        md_maker=md,
        temperatures=[300.0, 500.0, 900.0],
        repeats=2,
        production_ps_by_temperature=[40.0, 8.0, 1.0],
        diffusion_maker=None,
    ).make(None, "pot.mtp")
    lengths = {(j.maker.temperature, j.maker.production_ps) for j in flow.jobs}
    assert lengths == {(300.0, 40.0), (500.0, 8.0), (900.0, 1.0)}
    with pytest.raises(IonflowInputError, match="one positive production time per temperature"):
        ConductivityMdFlowMaker(
            md_maker=md, temperatures=[300.0, 500.0], production_ps_by_temperature=[1.0]
        ).make(None, "pot.mtp")


def test_every_site_variant_field_and_band_changes_the_flow():
    base = load_spec(FULL).model_dump(mode="json")
    reference = _flow_json(base)
    changes = {
        ("site_variants", 0, "label"): "A1",
        ("site_variants", 0, "material"): "LSTH-24k",
        ("site_variants", 0, "configurations"): "sqs",
        ("site_variants", 1, "n_configurations"): 2,
        ("site_variants", 1, "scaling"): [2, 2, 4],
        ("md", "production_ps", 1, "ps"): 2000.0,
        ("md", "production_ps", 2, "from_K"): 700.0,
    }
    for path, value in changes.items():
        data = json.loads(json.dumps(base))
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert _flow_json(data) != reference, path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["md"].update(temperatures_K=[250, 500]), "below the first production_ps band"),
        (lambda d: d["md"]["production_ps"].reverse(), "increasing from_K"),
        (lambda d: d["site_variants"][1].update(label="1a"), "labels must differ"),
        (lambda d: d.update(structures={"configurations": "sqs"}), "replaced by site_variants"),
        (lambda d: d["site_variants"][0].update(material="Li6PS5Cl"), "one MTP serves all sites"),
        (lambda d: d["site_variants"][0].update(scaling=None), "not a whole number"),
        (lambda d: d.update(site_variants=d["site_variants"][:1]), "site_variants"),
    ],
    ids=["band-below", "band-order", "labels", "configurations", "elements", "fractional",
         "one-site"],
)  # fmt: skip
def test_bad_site_variant_specs_are_one_line_errors(tmp_path, edit, message):
    data = yaml.safe_load(FULL.read_text())
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(IonflowInputError) as info:
        load_spec(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_md_cost_sums_the_length_of_every_temperature():
    spec = load_spec(FULL)
    (md,) = [c for c in estimate_core_hours(spec, 154) if c.stage == "md"]
    flat = spec.model_copy(deep=True)
    flat.md.production_ps = 200.0  # every temperature at the shortest length
    (md_flat,) = [c for c in estimate_core_hours(flat, 154) if c.stage == "md"]
    # 2 x 10 ns + 2 x 1 ns + 7 x 200 ps against 11 x 200 ps (plus 100 ps heating each)
    assert md.core_hours / md_flat.core_hours == pytest.approx(
        (2 * 10_100 + 2 * 1_100 + 7 * 300) / (11 * 300), rel=1e-6
    )


def _arrhenius(ln_D, temperatures, seed: int) -> ArrheniusDocument:
    """Random-walk runs whose D follows ``ln_D(T)`` (cm^2/s), analysed as MD would be."""
    docs = []
    for k, T in enumerate(temperatures):
        D_A2_fs = math.exp(ln_D(T)) * 10.0  # cm^2/s -> Å^2/fs
        walk = random_walk(24, 400, (D_A2_fs,) * 3, 20.0, seed=seed + k)
        traj = from_positions(walk, np.arange(400) * 20.0, np.eye(3) * 12.0, n_atoms_total=154)
        docs.append(DiffusionDocument.from_species_trajectory(traj, T))
    return ArrheniusDocument.from_diffusion_documents(docs, extrapolation_K=298.0)


def _report(material: str, arrhenius: ArrheniusDocument) -> PipelineReportDocument:
    configuration = ConfigurationResult(
        index=0, formula="Li6Sr7Ta12Hf4O48", n_atoms=77, weight=1.0, Ea_eV=arrhenius.Ea_eV,
        Ea_err_eV=arrhenius.Ea_err_eV, sigma300_mS_cm=arrhenius.sigma300_mS_cm,
        sigma300_ci_mS_cm=arrhenius.sigma300_ci_mS_cm,
    )  # fmt: skip
    return PipelineReportDocument.model_construct(
        name="x", material=material, oracle="chgnet", extrapolation_K=298.0,
        configurations=[configuration], arrhenius=[arrhenius], notes=[],
        published=[{"quantity": q, "value": v, "unit": u} for q, v, u in PUBLISHED[material]],
    )  # fmt: skip


def test_site_comparison_keeps_sites_apart_and_extrapolates_along_the_low_segment(tmp_path):
    T = [400, 450, 500, 550, 600, 700, 800, 900, 1000, 1100]
    x_break = 1.0 / (K_B_EV_PER_K * 650.0)

    def kinked(t):  # 0.45 eV below 650 K, 0.15 eV above
        x = 1.0 / (K_B_EV_PER_K * t)
        return -5.0 - 0.15 * x - 0.30 * max(x - x_break, 0.0)

    def straight(t):
        return -5.5 - 0.25 / (K_B_EV_PER_K * t)

    doc = compare_sites(
        "lsth",
        ["24k", "1a"],
        [
            _report("LSTH-24k", _arrhenius(kinked, T, 0)),
            _report("LSTH-1a", _arrhenius(straight, T, 50)),
        ],
    )
    site_24k, site_1a = doc.sites
    kink = site_24k.configurations[0]
    assert kink.break_significant and kink.break_interval_K[0] < 650 < kink.break_interval_K[1]
    assert kink.Ea_low_interval_eV[0] < 0.45 < kink.Ea_low_interval_eV[1]
    assert kink.Ea_high_interval_eV[0] < 0.15 < kink.Ea_high_interval_eV[1]
    assert kink.sigma_x_from == "low-temperature segment"
    # the one-line extrapolation over the kink overestimates sigma(298 K) far outside
    # the low segment's interval
    low, high = site_24k.sigma_x_interval_mS_cm
    assert high < _report("LSTH-24k", _arrhenius(kinked, T, 0)).arrhenius[0].sigma300_mS_cm
    assert low < site_24k.sigma_x_mS_cm < high
    assert site_1a.configurations[0].sigma_x_from == "one line"
    assert not site_1a.configurations[0].break_significant
    assert site_1a.published_Ea_eV == 0.22 and site_1a.published_sigma_mS_cm == 4.05
    assert site_24k.published_Ea_eV == 0.43 and site_24k.published_sigma_mS_cm == 0.031
    assert (site_1a.published_Ea_high_eV, site_1a.published_break_K) == (0.11, 600)
    assert (site_24k.published_Ea_high_eV, site_24k.published_break_K) == (0.15, 700)
    assert any("Li@1a: no significant kink" in note for note in doc.notes)
    assert any("never averaged" in note for note in doc.notes)
    assert plot_site_arrhenius(doc, tmp_path / "sites.png").stat().st_size > 10_000


def test_site_reports_split_configurations_by_site_and_pass_references_only():
    """Each site's report gets its own configurations' results, as references (the
    stored arguments of jobs made at run time hold no training set or potential)."""
    from jobflow import OutputReference
    from pymatgen.core import Lattice, Structure

    from ionflow.structures.schemas.structures import StructureSetDocument

    spec = load_spec(TINY)
    maker = PipelineMaker.from_spec(spec)
    cell = Structure(Lattice.cubic(4.0), ["Li", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    records = StructureSetDocument.from_pairs(
        "site_variants",
        "LSTH",
        [(cell, {"site": site, "label": f"{site}-{k}"}) for k, site in enumerate("ABA")],
    ).records
    refs = {name: OutputReference(f"uuid-{name}") for name in ("arrhenius", "fit", "labelled")}
    site_reports = SiteReportsMaker(
        labels=["A", "B"], materials=["LSTH-1a", "LSTH-24k"],
        report_maker=maker.report_maker,
        inputs={**refs, "relaxed": OutputReference("uuid-relaxed"), "active": None},
    )  # fmt: skip
    response = site_reports.make.original(site_reports, records, [1, 2, 3], relaxed=[])
    reports, comparison = response.replace.jobs[:2], response.replace.jobs[2]
    assert [job.maker.material for job in reports] == ["LSTH-1a", "LSTH-24k"]
    assert [job.name for job in [*reports, comparison]] == ["report", "report", "site comparison"]
    relaxed, arrhenius, fit, labelled, active = reports[0].function_args
    assert relaxed == []  # nothing was relaxed
    assert [ref.attributes for ref in arrhenius] == [(("i", 0),), (("i", 2),)]  # A: 0 and 2
    assert [ref.attributes for ref in reports[1].function_args[1]] == [(("i", 1),)]
    assert fit is refs["fit"] and labelled is refs["labelled"] and active is None
    assert comparison.maker.labels == ["A", "B"]
    assert comparison.maker.cells == [(records[0].formula, 2), (records[1].formula, 2)]
    with_relaxed = site_reports.make.original(site_reports, records, [1, 2, 3], relaxed=[0, 1, 2])
    (relaxed_refs, *_) = with_relaxed.replace.jobs[1].function_args
    assert [ref.attributes for ref in relaxed_refs] == [(("i", 1),)]
