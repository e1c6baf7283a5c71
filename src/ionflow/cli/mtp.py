"""``ionflow mtp``: fit an MTP to a labelled ``.cfg``, grade configurations against it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Moment Tensor Potentials: fit, grade.", no_args_is_help=True)

TRAIN_SUFFIX = ".train.cfg"


def _species(text: str) -> list[str]:
    from ase.data import atomic_numbers

    from ionflow.errors import IonflowInputError

    species = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in species if s not in atomic_numbers]
    if not species or unknown:
        raise IonflowInputError(
            f"--species must list element symbols in .cfg type order, e.g. Li,S (got {text!r})"
        )
    return species


def _existing(path: Path, what: str) -> Path:
    from ionflow.errors import IonflowInputError

    if not path.is_file():
        raise IonflowInputError(f"{what} {path} does not exist")
    return path


def error_table(rows: dict[str, object], title: str):
    """Return a rich table of MAE/RMSE per split (``SplitErrors`` by split name)."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("split", "quantity", "MAE", "RMSE", "n"):
        table.add_column(column, justify="left" if column in ("split", "quantity") else "right")
    for split, errors in rows.items():
        if errors is None:
            continue
        for name, label, scale in (
            ("energy_per_atom", "energy (meV/atom)", 1000.0),
            ("forces", "forces (eV/Å)", 1.0),
            ("stress", "stress (GPa)", 1.0),
        ):
            stats = getattr(errors, name)
            if stats is not None:
                table.add_row(
                    split, label, f"{stats.mae * scale:.4g}", f"{stats.rmse * scale:.4g}",
                    str(stats.n),
                )  # fmt: skip
    return table


@app.command("fit")
def fit(
    cfg: Path = typer.Argument(..., help="Labelled MLIP .cfg (eV, eV/Å, virial eV)."),
    species: str = typer.Option(..., help="Element symbols in .cfg type order, e.g. Li,S."),
    level: int = typer.Option(8, help="MTP level (even, 2-16)."),
    r_cut: float = typer.Option(5.0, "--r-cut", help="Cutoff radius, Å."),
    radial_basis_size: int = typer.Option(8, help="Chebyshev radial basis size."),
    max_iter: int = typer.Option(500, help="Optimiser iterations at most (motep: fewer)."),
    validation_fraction: float = typer.Option(0.1, help="Held-out share (fixed-seed split)."),
    seed: int = typer.Option(0, help="Split and initialisation seed."),
    start_from: Path | None = typer.Option(
        None, help="Fitted .mtp to start from (same or lower level: upconverted)."
    ),
    engine: str | None = typer.Option(None, help="mlp or motep (default: settings)."),
    oracle: str = typer.Option("unknown", help="Oracle that labelled CFG (vasp, cp2k, chgnet)."),
    level_of_theory: str = typer.Option("unknown", help="Level of theory of the labels."),
    out: Path = typer.Option(Path("pot.mtp"), help="Fitted potential (MLIP-2 layout)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
) -> None:
    """Fit an MTP; write it, its training set and a parity plot; print the errors."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ionflow.cli.errors import check_new_output
    from ionflow.errors import IonflowInputError
    from ionflow.io.labelled_set import LabelledSet
    from ionflow.io.mlip_cfg import check_cfg_text
    from ionflow.io.mlip_mtp import read_mtp_file_text
    from ionflow.io.text_file import read_text_file
    from ionflow.mtp.fitting import fit_mtp
    from ionflow.mtp.plotting import plot_parity

    console = Console()
    names = _species(species)
    if level < 2 or level % 2 or r_cut <= 0 or max_iter < 1 or not 0 <= validation_fraction < 1:
        raise IonflowInputError(
            "need an even --level >= 2, --r-cut > 0 Å, --max-iter >= 1 and "
            f"0 <= --validation-fraction < 1 (got {level}, {r_cut}, {max_iter}, "
            f"{validation_fraction})"
        )
    for path in (out, out.with_suffix(TRAIN_SUFFIX), out.with_suffix(".parity.png")):
        check_new_output(path, force)
    text = read_text_file(cfg, "MLIP .cfg")
    check_cfg_text(text, cfg, names, require_labels=True)
    previous = read_mtp_file_text(start_from, names) if start_from else None
    labelled_set = LabelledSet.from_cfg_text(text, names, oracle, level_of_theory)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        progress.add_task(f"fitting level {level}, R_cut {r_cut:g} Å ({max_iter} iterations)")
        doc = fit_mtp(
            labelled_set, level=level, r_cut=r_cut, radial_basis_size=radial_basis_size,
            max_iter=max_iter, validation_fraction=validation_fraction, seed=seed,
            previous_mtp=previous, engine=engine,
        )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc.mtp)
    train_cfg = out.with_suffix(TRAIN_SUFFIX)
    train_cfg.write_text(doc.training_cfg)
    console.print(
        error_table(
            {"train": doc.train_errors, "validation": doc.validation_errors},
            f"level {doc.level}, R_cut {doc.r_cut:g} Å: {doc.n_train} train / "
            f"{doc.n_validation} validation configurations ({doc.engine})",
        )
    )
    console.print(
        f"fit {doc.fit_time_s:.1f} s; evaluation "
        f"{doc.evaluation_time_per_atom_step_s * 1e6:.1f} µs per atom-step"
    )
    console.print(f"potential: {out}\ntraining set (for grading): {train_cfg}")
    if doc.parity_validation is not None:
        png = plot_parity(doc.parity_validation, out.with_suffix(".parity.png"), str(out))
        console.print(f"parity plot: {png}")


@app.command("grade")
def grade(
    pot: Path = typer.Argument(..., help="Fitted .mtp."),
    cfg: Path = typer.Argument(..., help="Configurations to grade (.cfg)."),
    species: str = typer.Option(..., help="Element symbols in .cfg type order, e.g. Li,S."),
    train: Path | None = typer.Option(
        None, help=f"Training set of POT (default: POT with suffix {TRAIN_SUFFIX})."
    ),
    gamma_select: float = typer.Option(2.0, help="Grades above this would be selected."),
    gamma_break: float = typer.Option(10.0, help="Grades above this would stop an MD run."),
    json_file: Path | None = typer.Option(
        None, "--json", help='Also write [{"index", "n_atoms", "grade"}, ...] to this file.'
    ),
) -> None:
    """Print the MaxVol extrapolation grade of each configuration (and errors if labelled).

    Grades follow MLIP-3's neighbourhood mode: the active set is built from the training set
    as ``mlp train --al_mode=nbh`` does, and each configuration's grade is the largest
    grade of its atoms, as ``mlp calculate_grade`` writes it (``MV_grade``).
    """
    from rich.console import Console
    from rich.table import Table

    from ionflow.io.mlip_cfg import read_labelled_cfg
    from ionflow.mtp import motep_api
    from ionflow.mtp.fitting import evaluate_errors
    from ionflow.mtp.selection import grade_configurations

    console = Console()
    names = _species(species)
    train = _existing(train or pot.with_suffix(TRAIN_SUFFIX), "training set")
    data = motep_api.read_potential(_existing(pot, "potential"), names)
    images = read_labelled_cfg(_existing(cfg, "configurations"), names)
    with console.status("building the active set and grading"):
        same = train.resolve() == cfg.resolve()  # grading the training set itself
        training = images if same else read_labelled_cfg(train, names)
        grades = grade_configurations(data, training, images).tolist()

    if json_file is not None:
        rows = [
            {"index": i, "n_atoms": len(atoms), "grade": g}
            for i, (atoms, g) in enumerate(zip(images, grades, strict=True))
        ]
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(rows, indent=1) + "\n")

    table = Table(title=f"extrapolation grades of {cfg} against {train.name}")
    for column in ("#", "atoms", "grade", "verdict"):
        table.add_column(column, justify="right")
    for i, (atoms, g) in enumerate(zip(images, grades, strict=True)):
        verdict = "break" if g > gamma_break else "select" if g > gamma_select else "ok"
        table.add_row(str(i), str(len(atoms)), f"{g:.3f}", verdict)
    console.print(table)
    n_select = sum(g > gamma_select for g in grades)
    console.print(
        f"{len(grades)} configurations: max grade {max(grades):.3f}, "
        f"{n_select} above gamma_select={gamma_select:g}, "
        f"{sum(g > gamma_break for g in grades)} above gamma_break={gamma_break:g}"
    )
    labelled = all(a.calc is not None and "forces" in a.calc.results for a in images)
    if labelled:
        errors, _ = evaluate_errors(images, motep_api.predicted_images(data, images))
        console.print(error_table({cfg.name: errors}, f"errors of {pot.name} on {cfg.name}"))
