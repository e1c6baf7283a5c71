from ionflow.md.jobs.lammps import LammpsMdMaker
from ionflow.md.schemas.protocol import heat_then_npt_protocol
from ionflow.md.sets.deck import render_deck


def test_production_can_be_nvt():
    protocol = heat_then_npt_protocol(600.0, production_ps=1.0, heating_ps=0.0)
    assert protocol.stages[-1].ensemble == "npt"
    nvt = heat_then_npt_protocol(
        600.0, production_ps=1.0, heating_ps=0.0, production_ensemble="nvt"
    )
    assert [stage.ensemble for stage in nvt.stages] == ["nvt"]
    deck = render_deck(nvt, ["Li", "S"], [6.94, 32.06], "lammps-python", 5.0)
    assert "all nvt temp 600 600" in deck and " npt " not in deck


def test_md_maker_passes_the_ensemble():
    maker = LammpsMdMaker(temperature=500.0, production_ps=1.0, heating_ps=0.0, ensemble="nvt")
    assert maker.get_protocol().stages[-1].ensemble == "nvt"
    assert LammpsMdMaker().get_protocol().stages[-1].ensemble == "npt"
