"""The LLZO strain/amorphous study as a spec option: settings, the Flow it builds, its cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from ionflow.errors import IonflowInputError
from ionflow.pipeline.cost import estimate_core_hours, volume_study_cost
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.llzo_volumes import STUDY_NAME, VolumeStudyMaker
from ionflow.pipeline.spec import load_spec

WORKFLOWS = Path(__file__).parents[2] / "workflows"
FULL = WORKFLOWS / "llzo_strain_amorphous.yaml"
TINY = WORKFLOWS / "tiny" / "llzo_strain_amorphous.yaml"


def _study(path: Path) -> VolumeStudyMaker:
    spec = load_spec(path)
    maker = PipelineMaker.from_spec(spec)
    assert "volume study" in [job.name for job in maker.make(spec.material).jobs]
    return maker.volume_study_maker


def test_full_spec_carries_the_published_settings():
    study = _study(FULL)
    assert study.volume_fractions == pytest.approx([0.85 + 0.05 * k for k in range(10)])
    assert study.potentials == ("mtp", "classical") and study.cross
    assert study.classical_potential == "llzo-buckingham"
    assert study.n_configurations == 4  # x = 6.25, 6.5, 6.75, 7
    conductivity = study.conductivity_maker
    assert conductivity.temperatures == [700.0, 900.0, 1100.0, 1300.0, 1500.0, 1700.0]
    md = conductivity.md_maker
    assert md.ensemble == "nvt" and md.potential is None  # MTP runs; classical set per run
    # 6 ns at T, the last 5 ns analysed: one 1 ns plateau at T, then 5 ns production
    assert (md.heating_ps, md.production_ps) == (1000.0, 5000.0)
    assert md.heating_step_K > max(conductivity.temperatures)
    assert conductivity.arrhenius_maker.extrapolation_K == 1100.0  # D(1100 K)
    assert conductivity.diffusion_maker.site_analysis
    assert conductivity.diffusion_maker.sites_from == "density"
    quench = study.melt_quench_maker.md_maker
    assert (quench.melt_temperature, quench.melt_ps, quench.temperature) == (3000.0, 1000.0, 500.0)
    assert quench.quench_rate_k_per_ps == 5.0 and quench.timestep_fs == 1.0
    assert study.amorphous_configuration == 0 and study.amorphous_supercell == (2, 2, 2)


def test_specs_without_the_section_build_no_study():
    spec = load_spec(WORKFLOWS / "llzo_garnet.yaml")
    maker = PipelineMaker.from_spec(spec)
    assert maker.volume_study_maker is None
    assert "volume study" not in [job.name for job in maker.make(spec.material).jobs]


def _cells() -> list[Structure]:
    """Two small stand-in configurations (the study's runtime job only reads and scales them)."""
    return [
        Structure(Lattice.cubic(5.0), ["Li", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure(Lattice.cubic(5.2), ["Li", "Li", "O"], [[0, 0, 0], [0.5, 0, 0], [0.5] * 3]),
    ]


def _replacement(study: VolumeStudyMaker):
    response = VolumeStudyMaker.make.original(study, _cells(), "MTP TEXT")
    return response.replace


def _md_jobs(flow) -> list:
    jobs = []
    for item in flow.jobs:
        jobs += _md_jobs(item) if hasattr(item, "jobs") else [item]
    return jobs


def test_runtime_flow_runs_every_cell_with_every_potential_and_crosses():
    study = _study(TINY)  # 1 configuration, 2 volumes, amorphous by classical, cross
    flow = _replacement(study)
    jobs = _md_jobs(flow)
    md = [j for j in jobs if j.name.startswith("md ")]
    # crystalline 2 volumes x 2 potentials + amorphous 1 cell x 2 potentials (cross), x 2 T
    assert len(md) == (2 * 2 + 1 * 2) * 2
    # names: "md c0 95%V classical 1100 K #1", "md a-c0 110%V classical>mtp 1500 K #1"
    for job in md:
        uses_classical = job.function.__self__.potential is not None
        assert uses_classical == (job.name.split(" ")[3].split(">")[-1] == "classical"), job.name
        assert (job.function_args[1] is None) == uses_classical  # the MTP only for mtp runs
    assert sum(j.function.__self__.potential is not None for j in md) == (2 + 1) * 2
    quench = [j for j in jobs if j.name.startswith("melt quench")]
    assert len(quench) == 1 and quench[0].function.__self__.potential["name"] == "llzo-buckingham"
    (summary,) = [j for j in jobs if j.name == STUDY_NAME]
    cells = summary.function_args[0]
    assert [(c["cell"], c["volume_fraction"], c["md_potential"]) for c in cells] == [
        ("crystalline", 0.95, "mtp"),
        ("crystalline", 0.95, "classical"),
        ("crystalline", 1.05, "mtp"),
        ("crystalline", 1.05, "classical"),
        ("amorphous", 1.10, "mtp"),
        ("amorphous", 1.10, "classical"),
    ]
    assert summary.function_args[2] == 1100.0
    # without cross: the amorphous cell is run only with the potential that made it
    study.cross = False
    cells = next(j for j in _md_jobs(_replacement(study)) if j.name == STUDY_NAME).function_args[0]
    assert [c["md_potential"] for c in cells if c["cell"] == "amorphous"] == ["classical"]


def test_amorphous_configuration_beyond_the_configurations_is_one_line(tmp_path):
    text = TINY.read_text().replace("    configuration: 0", "    configuration: 3")
    (tmp_path / "s.yaml").write_text(text)
    spec = load_spec(tmp_path / "s.yaml")
    with pytest.raises(IonflowInputError, match=r"volumes\.amorphous\.configuration 3"):
        PipelineMaker.from_spec(spec)


def test_classical_model_must_cover_the_material(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: x\nmaterial: Li6PS5Cl\ndft: {oracle: chgnet, levels_of_theory: [PBE], "
        "fit_level: PBE}\nvolumes: {amorphous: null}\n"
    )
    with pytest.raises(IonflowInputError, match=r"no parameters for \['Cl', 'P', 'S'\]"):
        PipelineMaker.from_spec(load_spec(path))


def test_amorphous_potentials_must_be_among_the_study_potentials(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: x\nmaterial: LLZO\nstructures: {configurations: llzo-vacancies, "
        "n_configurations: 4}\nvolumes: {potentials: [mtp], amorphous: {potentials: [classical]}}\n"
    )
    with pytest.raises(IonflowInputError, match=r"amorphous\.potentials"):
        load_spec(path)


def test_cost_counts_the_study_runs():
    spec = load_spec(FULL)
    cost = volume_study_cost(spec, 192)
    # crystalline 4 x 10 cells x 2 potentials; amorphous 3 cells x 2 makers x 2 (cross); x 6 T
    assert cost.units.startswith(f"volume study: {(4 * 10 * 2 + 3 * 2 * 2) * 6} runs")
    md = next(c for c in estimate_core_hours(spec, 192) if c.stage == "md")
    assert md.core_hours > cost.core_hours > 0
    spec.volumes.cross = False
    assert volume_study_cost(spec, 192).core_hours < cost.core_hours
