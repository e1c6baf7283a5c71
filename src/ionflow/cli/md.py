"""``ionflow md``: continue an interrupted MD run, plot a run's thermo output."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Production MD with an MTP (LAMMPS).", no_args_is_help=True)


@app.command("continue")
def continue_run(
    run_dir: Path = typer.Argument(..., help="Segment directory of the interrupted run."),
) -> None:
    """Continue a killed or timed-out MD run here, segment by segment, to its end."""
    from rich.console import Console

    from ionflow.md.schemas.protocol import MdProtocol
    from ionflow.md.segments import (
        SegmentState,
        collect_run,
        next_segment_state,
        run_segment,
        write_segment_inputs,
    )

    console = Console()
    previous = run_dir.resolve()
    protocol = MdProtocol.model_validate(SegmentState.load(previous).protocol)
    while True:
        state, restart = next_segment_state(previous)
        new_dir = previous.parent / f"{previous.name.split('.seg')[0]}.seg{state.segment:03d}"
        write_segment_inputs(new_dir, state, previous / "pot.mtp", restart_file=restart)
        console.print(f"segment {state.segment}: steps {state.start_step} -> {state.stop_step}")
        state = run_segment(new_dir)
        previous = new_dir
        if state.reached_step is None or state.reached_step >= protocol.total_steps:
            break
        if state.reached_step <= state.start_step:
            raise typer.Exit(code=1)
    doc = collect_run(previous, protocol.stages[-1].temperature_stop)
    console.print(f"done: {doc.completed_steps} steps, {doc.n_frames} frames")
    console.print(f"trajectory: {doc.trajectory_file}")


@app.command("plot")
def plot(
    run_dir: Path = typer.Argument(..., help="Last segment directory of a run."),
    out: Path = typer.Option(Path("thermo.png"), help="Figure file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out."),
) -> None:
    """Plot temperature, pressure, energy and volume of a run (all its segments)."""
    from ionflow.cli.errors import check_new_output
    from ionflow.md.plotting import plot_thermo
    from ionflow.md.schemas.protocol import MdProtocol
    from ionflow.md.segments import SegmentState, collect_run

    check_new_output(out, force)
    protocol = MdProtocol.model_validate(SegmentState.load(run_dir).protocol)
    doc = collect_run(run_dir, protocol.stages[-1].temperature_stop)
    typer.echo(plot_thermo(doc.thermo, out, title=str(run_dir)))
