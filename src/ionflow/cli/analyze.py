"""`ionflow analyze diffusion|arrhenius`: D, sigma and E_a from MD trajectories.

The JSON field names are a stable interface (users script them): see the command help.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ionflow.analysis.displacements import SpeciesTrajectory, collect_species_trajectory
from ionflow.analysis.readers import open_trajectory, parse_type_map
from ionflow.analysis.schemas.diffusion import ArrheniusDocument, DiffusionDocument
from ionflow.analysis.schemas.regions import RegionDocument, SiteDocument
from ionflow.cli.errors import check_new_output
from ionflow.errors import IonflowInputError

app = typer.Typer(help="Diffusivity, conductivity and Arrhenius analysis.", no_args_is_help=True)
console = Console(stderr=True)

TRAJECTORY_HELP = (
    "LAMMPS dump (text with any columns, or binary), VASP XDATCAR or vasprun.xml, CP2K "
    "PROJECT-pos-1.xyz (with its PROJECT-1.cell), extended XYZ, ASE .traj."
)
SPECIES = typer.Option("Li", "--species", help="Diffusing species (element symbol).")
TYPE_MAP = typer.Option(
    None,
    "--type-map",
    help="LAMMPS types, e.g. 1=Li,2=P,3=S,4=Cl (default: the dump's element column).",
)
TIMESTEP = typer.Option(
    None,
    "--timestep-fs",
    help="MD time step in fs (LAMMPS: time = step x this); for XYZ/ASE files the time "
    "between frames. Default: the times stored in the file.",
)
JSON_OUT = typer.Option(None, "--json", help="Write the results as JSON here.")
PLOT_OUT = typer.Option(None, "--plot", help="Write a plot (PNG or SVG) here.")
FORCE = typer.Option(False, "--force", help="Overwrite an existing --json or --plot file.")
WINDOW = typer.Option(
    None, "--window-ps", help="Fit window 'START,END' in ps (default: automatic)."
)


def _window_fs(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        start, end = (float(v) * 1e3 for v in text.split(","))
    except ValueError as exc:
        raise IonflowInputError(f"--window-ps '{text}' is not START,END in ps") from exc
    return start, end


def _read_species(
    path: Path, species: str, type_map: str | None, timestep_fs: float | None
) -> SpeciesTrajectory:
    """Stream a trajectory with a progress line; keep the species' unwrapped positions.

    Raises:
        IonflowInputError: the file is missing, empty, truncated or not a trajectory
            (whatever the reader raised, as one line naming the file).
    """
    try:
        return _collect(path, species, type_map, timestep_fs)
    except IonflowInputError:
        raise
    except (ValueError, IndexError, KeyError, OSError, EOFError, struct.error) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise IonflowInputError(f"{path}: cannot read the trajectory ({reason})") from exc


def _collect(
    path: Path, species: str, type_map: str | None, timestep_fs: float | None
) -> SpeciesTrajectory:
    reader = open_trajectory(path, parse_type_map(type_map))
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"reading {path.name}", total=None)

        def tick(n_frames: int) -> None:
            if n_frames % 100 == 0:
                progress.update(task, description=f"reading {path.name}: {n_frames} frames")

        return collect_species_trajectory(reader, species, timestep_fs, progress=tick)


def _analyse(
    path: Path,
    species: str,
    temperature: float,
    type_map: str | None,
    timestep_fs: float | None,
    window: str | None,
) -> DiffusionDocument:
    if temperature <= 0:
        raise IonflowInputError(f"--temperature must be positive (K), got {temperature}")
    positions = _read_species(path, species, type_map, timestep_fs)
    return DiffusionDocument.from_species_trajectory(
        positions, temperature, _window_fs(window), str(path)
    )


def _check_outputs(json_out: Path | None, plot: Path | None, force: bool) -> None:
    check_new_output(json_out, force, "--json")
    check_new_output(plot, force, "--plot")


def _summary(doc: DiffusionDocument) -> dict:
    return doc.model_dump(exclude={"msd_time_ps", "msd_A2", "msd_xyz_A2"})


def _write_json(data: dict, path: Path | None) -> None:
    text = json.dumps(data, indent=2)
    if path is None:
        typer.echo(text)
    else:
        path.write_text(text + "\n")


@app.command()
def diffusion(
    trajectory: Path = typer.Argument(..., help=TRAJECTORY_HELP),
    temperature: float = typer.Option(..., "--temperature", help="Temperature in K."),
    species: str = SPECIES,
    type_map: str | None = TYPE_MAP,
    timestep_fs: float | None = TIMESTEP,
    window_ps: str | None = WINDOW,
    json_out: Path | None = JSON_OUT,
    plot: Path | None = PLOT_OUT,
    force: bool = FORCE,
) -> None:
    """D (total, x/y/z) with standard errors and sigma of one trajectory.

    JSON fields: temperature_K, D_cm2_s, D_err_cm2_s, D_interval_cm2_s (95%),
    linear_regime_found, D_xyz_cm2_s, D_xyz_err_cm2_s, sigma_mS_cm, sigma_err_mS_cm,
    sigma_interval_mS_cm, n_species_atoms, fit_window_ps, haven_ratio, ...
    Without a linear MSD regime, D is the median over plausible fit windows and its
    interval spans them (the printed line says so).
    """
    _check_outputs(json_out, plot, force)
    doc = _analyse(trajectory, species, temperature, type_map, timestep_fs, window_ps)
    _write_json(_summary(doc), json_out)
    if plot is not None:
        from ionflow.analysis.plotting import plot_msd

        plot_msd(doc, plot)
    console.print(diffusion_line(doc))


def diffusion_line(doc: DiffusionDocument) -> str:
    """The printed result of one trajectory: D and sigma with their 95 % intervals.

    Without a linear (diffusive) regime the line says so and gives the interval over
    the plausible fit windows instead of a standard error.
    """
    (d_low, d_high), (s_low, s_high) = doc.D_interval_cm2_s, doc.sigma_interval_mS_cm
    head = f"{doc.species} at {doc.temperature_K:g} K: "
    if doc.linear_regime_found:
        return (
            f"{head}D = {doc.D_cm2_s:.3e} ± {doc.D_err_cm2_s:.1e} cm²/s "
            f"(95%: {d_low:.3e} to {d_high:.3e}), "
            f"sigma = {doc.sigma_mS_cm:.3g} ± {doc.sigma_err_mS_cm:.2g} mS/cm"
        )
    return (
        f"{head}no linear (diffusive) MSD regime found in {doc.total_time_ps:.3g} ps: "
        f"D = {doc.D_cm2_s:.3e} cm²/s, 95% over {doc.n_fit_windows} fit windows "
        f"{d_low:.3e} to {d_high:.3e} cm²/s; sigma = {doc.sigma_mS_cm:.3g} mS/cm "
        f"({s_low:.3g} to {s_high:.3g}); run longer for a reliable D"
    )


@app.command()
def arrhenius(
    run: list[str] = typer.Option(
        ..., "--run", help="TEMPERATURE=TRAJECTORY, repeatable (several per temperature)."
    ),
    species: str = SPECIES,
    type_map: str | None = TYPE_MAP,
    timestep_fs: float | None = TIMESTEP,
    extrapolate_to: float = typer.Option(300.0, "--extrapolate-K", help="Target T in K."),
    json_out: Path | None = JSON_OUT,
    plot: Path | None = PLOT_OUT,
    force: bool = FORCE,
) -> None:
    """E_a, D(300 K) and sigma(300 K) with a 95% interval from runs at several T.

    JSON fields: Ea_eV, Ea_err_eV, D300_cm2_s, sigma300_mS_cm, sigma300_ci_mS_cm,
    break_K (null if no significant break), temperatures (per-temperature results).
    """
    _check_outputs(json_out, plot, force)
    runs = []
    for entry in run:
        temperature, sep, path = entry.partition("=")
        try:
            value = float(temperature)
        except ValueError:
            value = None
        if not sep or value is None or not path:
            raise IonflowInputError(
                f"--run '{entry}' is not TEMPERATURE=TRAJECTORY (e.g. 600=a.bin)"
            )
        runs.append((value, Path(path)))
    if len({t for t, _ in runs}) < 2:
        raise IonflowInputError("an Arrhenius fit needs runs at two or more temperatures")
    docs = [_analyse(p, species, t, type_map, timestep_fs, None) for t, p in runs]
    result = ArrheniusDocument.from_diffusion_documents(docs, extrapolate_to)
    data = result.model_dump()
    for temp in data["temperatures"]:
        temp["runs"] = [
            {k: v for k, v in r.items() if not k.startswith("msd_")} for r in temp["runs"]
        ]
    _write_json(data, json_out)
    if plot is not None:
        from ionflow.analysis.plotting import plot_arrhenius

        plot_arrhenius(result, plot)
    short = sorted({d.temperature_K for d in docs if not d.linear_regime_found})
    if short:
        console.print(
            f"no linear (diffusive) MSD regime at {', '.join(f'{t:g}' for t in short)} K: "
            "those D carry the spread over fit windows as their error; run longer"
        )
    low, high = result.sigma300_ci_mS_cm
    console.print(
        f"E_a = {result.Ea_eV:.3f} ± {result.Ea_err_eV:.3f} eV; "
        f"sigma({extrapolate_to:g} K) = {result.sigma300_mS_cm:.3g} mS/cm [{low:.3g}, {high:.3g}]"
    )


@app.command()
def regions(
    trajectory: Path = typer.Argument(..., help=TRAJECTORY_HELP),
    gb_planes: str = typer.Option(
        ..., "--gb-planes", help="GB plane positions, fractional along --axis, e.g. 0.25,0.75."
    ),
    axis: str = typer.Option("z", "--axis", help="Lattice direction normal to the GB: x, y, z."),
    width_A: float = typer.Option(10.0, "--width-A", help="Slab width in Å."),
    species: str = SPECIES,
    type_map: str | None = TYPE_MAP,
    timestep_fs: float | None = TIMESTEP,
    json_out: Path | None = JSON_OUT,
    plot: Path | None = PLOT_OUT,
    force: bool = FORCE,
) -> None:
    """D per slab around grain boundaries (GB, Near_GB, Far_GB, Bulk), counts over time."""
    _check_outputs(json_out, plot, force)
    if axis not in ("x", "y", "z"):
        raise IonflowInputError(f"--axis must be x, y or z, got '{axis}'")
    try:
        planes = [float(v) for v in gb_planes.split(",")]
    except ValueError as exc:
        raise IonflowInputError(f"--gb-planes '{gb_planes}' is not a list of numbers") from exc
    positions = _read_species(trajectory, species, type_map, timestep_fs)
    doc = RegionDocument.from_species_trajectory(positions, planes, "xyz".index(axis), width_A)
    _write_json(doc.model_dump(), json_out)
    if plot is not None:
        from ionflow.analysis.plotting import plot_region_diffusion

        plot_region_diffusion(doc, plot)
    for r in doc.regions:
        console.print(f"{r.region:8s} D = {r.D_cm2_s:.3e} ± {r.D_err_cm2_s:.1e} cm²/s")


@app.command()
def sites(
    trajectory: Path = typer.Argument(..., help=TRAJECTORY_HELP),
    species: str = SPECIES,
    type_map: str | None = TYPE_MAP,
    timestep_fs: float | None = TIMESTEP,
    json_out: Path | None = JSON_OUT,
    force: bool = FORCE,
) -> None:
    """Jumps, back-jump fraction and residence times between the first-frame sites."""
    _check_outputs(json_out, None, force)
    positions = _read_species(trajectory, species, type_map, timestep_fs)
    doc = SiteDocument.from_species_trajectory(positions)
    _write_json(doc.model_dump(), json_out)
