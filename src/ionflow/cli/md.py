"""``ionflow md``: continue an interrupted MD run, plot a run's thermo output."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Production MD with an MTP or a classical potential (LAMMPS).", no_args_is_help=True
)


@app.command("continue")
def continue_run(
    run_dir: Path = typer.Argument(..., help="Segment directory of the interrupted run."),
) -> None:
    """Continue a killed or timed-out MD run here, segment by segment, to its end.

    The same job as a rerun firework runs: ``LammpsMdMaker.make`` with ``previous_dir``,
    which replaces itself by the next segment until the protocol is done. Each segment
    gets a job folder beside ``RUN_DIR``.
    """
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore
    from rich.console import Console

    from ionflow.errors import IonflowInputError
    from ionflow.md.jobs.lammps import LammpsMdMaker
    from ionflow.md.segments import SegmentState

    previous = run_dir.resolve()
    # validate before computing: a directory that is no MD segment is exit 2 here
    state = SegmentState.load(previous)
    mtp = None  # a run with a classical potential carries it in its state
    if state.potential is None:
        if not (previous / "pot.mtp").exists():
            raise IonflowInputError(f"{previous}: no pot.mtp; not a complete ionflow MD segment")
        mtp = str(previous / "pot.mtp")
    maker = LammpsMdMaker(engine=state.engine, species=state.species, potential=state.potential)
    md_job = maker.make(None, mtp, previous_dir=str(previous))
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(
        md_job, store=store, root_dir=previous.parent, create_folders=True, ensure_success=True
    )
    runs = responses[md_job.uuid]
    doc = runs[max(runs)].output
    console = Console()
    console.print(f"done: {doc.completed_steps} steps, {doc.n_frames} frames")
    console.print(f"segments: {', '.join(doc.segment_dirs)}", markup=False)
    console.print(f"trajectory: {doc.trajectory_file}", markup=False)


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
