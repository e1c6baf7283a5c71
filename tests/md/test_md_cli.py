"""``ionflow md continue`` and ``ionflow md plot`` on a run that stopped half-way."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ionflow.cli.main import app
from ionflow.io.lammps_dump import iter_dump_frames
from ionflow.md.segments import SegmentState, run_segment, write_segment_inputs
from tests.fixtures.md import MD_MTP_FILE, MD_SPECIES
from tests.md.helpers import one_stage_protocol

pytestmark = pytest.mark.usefixtures("md_data_dir")  # MD must write nothing there


def test_cli_continues_a_stopped_run_to_the_end_and_plots_it(tmp_path, li2s_96):
    protocol = one_stage_protocol(
        "nvt", 400, 300.0, timestep_fs=2.0, thermo_every=10, dump_every=10, restart_every=100
    )
    first = tmp_path / "run"
    state = SegmentState(
        segment=0,
        start_step=0,
        stop_step=200,  # as if the allocation ended at step 200
        engine="lammps-python",
        species=MD_SPECIES,
        protocol=protocol.model_dump(),
    )
    write_segment_inputs(first, state, MD_MTP_FILE, structure=li2s_96)
    assert run_segment(first).reached_step == 200

    result = CliRunner().invoke(app, ["md", "continue", str(first)])
    assert result.exit_code == 0, result.output
    # the Maker's own continuation ran: one job folder beside the run, chained to it
    (last,) = tmp_path.glob("job_*")
    assert SegmentState.load(last).start_step == 200
    assert SegmentState.load(last).previous_dirs == [str(first.resolve())]
    assert SegmentState.load(last).reached_step == 400
    steps = [f.timestep for f in iter_dump_frames(last / "trajectory.bin")]
    assert steps == list(range(0, 401, 10))

    figure = tmp_path / "thermo.png"
    result = CliRunner().invoke(app, ["md", "plot", str(last), "--out", str(figure)])
    assert result.exit_code == 0, result.output
    assert figure.stat().st_size > 10_000


def test_cli_continue_rejects_a_directory_without_state(tmp_path):
    result = CliRunner().invoke(app, ["md", "continue", str(tmp_path)])
    assert result.exit_code != 0
    assert "md_state.json" in str(result.exception) + result.output
