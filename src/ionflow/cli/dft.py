"""`ionflow dft ...`: label structures with an oracle and look at labelled sets.

``ionflow dft label FILES... --level PBE --oracle chgnet --out DIR`` runs the
:class:`~ionflow.dft.jobs.LabelMaker` locally (in-memory JobStore, so no label cache
across calls) and writes ``labelled_set.cfg``, ``labelled_set.extxyz``,
``labelled_set.json`` (the summary) and ``labelled_set.png`` into ``DIR``.
``ionflow dft levels`` lists which oracle computes which level of theory.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ionflow.cli.errors import check_new_output
from ionflow.errors import IonflowInputError

app = typer.Typer(help="DFT relaxation, AIMD snapshots and labelling.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def levels() -> None:
    """List the levels of theory each oracle can compute."""
    from ionflow.dft.sets import ORACLE_LEVELS

    table = Table("oracle", "levels of theory")
    for oracle, names in ORACLE_LEVELS.items():
        table.add_row(oracle, ", ".join(names))
    Console().print(table)


@app.command()
def label(
    files: list[Path] = typer.Argument(..., help="Structure files (POSCAR, CIF, extxyz...)."),
    level: str = typer.Option("PBE", help="Level of theory."),
    oracle: str = typer.Option(None, help="vasp, cp2k or chgnet (default: settings)."),
    out: Path = typer.Option(Path("labelled"), help="Output directory."),
    cp2k_quality: str = typer.Option(
        "production", help="CP2K settings: production|cheap|minimal (sets/cp2k.yaml)."
    ),
    max_failed_fraction: float = typer.Option(0.05, help="Tolerated failed fraction."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out."),
) -> None:
    """Label structures: energy (eV), forces (eV/Å), stress (GPa) into an MLIP .cfg."""
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore
    from monty.json import MontyDecoder

    from ionflow.dft.jobs import LabelMaker
    from ionflow.dft.labelled_set import write_extxyz
    from ionflow.dft.plots import plot_labelled_set
    from ionflow.dft.sets.oracle import OracleSettings
    from ionflow.settings import get_settings
    from ionflow.structures.parents import read_structure_file

    check_new_output(out, force)
    if not 0 <= max_failed_fraction <= 1:
        raise IonflowInputError(
            f"--max-failed-fraction must be between 0 and 1, got {max_failed_fraction}"
        )
    structures = [read_structure_file(path) for path in files]
    # the user's setting is read here, not inside the job, so a bad config file is one line
    settings = OracleSettings(oracle=oracle or get_settings().oracle, cp2k_quality=cp2k_quality)
    maker = LabelMaker(
        level_of_theory=level, oracle_settings=settings, max_failed_fraction=max_failed_fraction
    )
    job = maker.make(structures)  # checks level/oracle before anything runs
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    out.mkdir(parents=True, exist_ok=True)
    run_locally(job, store=store, root_dir=out / "work", create_folders=True, log=False)
    output = store.get_output(job.uuid, load=True) if store.query_one({"uuid": job.uuid}) else None
    if output is None:
        raise typer.Exit(1)  # the job failed; jobflow logged why
    document = MontyDecoder().process_decoded(output)
    (out / "labelled_set.cfg").write_text(document.labelled_set.cfg_text())
    write_extxyz(document, out / "labelled_set.extxyz")
    summary = document.model_dump(exclude={"labelled_set"})
    (out / "labelled_set.json").write_text(json.dumps(summary, indent=2))
    plot_labelled_set(document, out / "labelled_set.png")
    console.print(
        f"{document.n_labelled}/{document.n_requested} labelled by {document.oracle} at "
        f"{document.level_of_theory}; {len(document.failures)} failed -> {out}"
    )
