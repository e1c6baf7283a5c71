"""`ionflow structures MATERIAL ...`: build and look at structures before submitting.

Writes one POSCAR (``.vasp``) and one CIF per structure and ``summary.json`` (one entry
per structure: label, formula, n_atoms, space_group, volume, ewald_energy,
halide_4c_fraction, parent, provenance; for ``--sqs`` the provenance holds
``correlation_error`` with ``max_abs`` and ``rms``) into ``--out``. Everything is built in a
temporary directory first and moved into place at the end, so a failure writes nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ionflow.cli.errors import check_new_output
from ionflow.errors import IonflowInputError
from ionflow.structures.jobs.core import (
    AmorphousExpansionMaker,
    ArgyroditeConfigurationsMaker,
    ElectrostaticGroundStateMaker,
    GrainBoundaryMaker,
    LithiumContentMaker,
    RandomStructureMaker,
    SqsMaker,
    StrainMaker,
    StructureSetMaker,
    SupercellMaker,
    VolumetricStrainMaker,
)
from ionflow.structures.parents import get_parent_structure
from ionflow.structures.schemas.structures import StructureSetDocument
from ionflow.structures.strain import strain_steps
from ionflow.structures.supercell import make_supercell, parse_scaling

console = Console(stderr=True)


def _floats(text: str, option: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise IonflowInputError(
            f"{option} '{text}' is not a comma-separated list of numbers"
        ) from exc


def _weights(text: str) -> dict[str, float]:
    weights = {}
    for item in text.split(","):
        label, _, value = item.partition("=")
        try:
            weights[label.strip()] = float(value)
        except ValueError as exc:
            raise IonflowInputError(f"--weights item '{item}' is not LABEL=NUMBER") from exc
    return weights


def _strain_magnitudes(text: str) -> list[float]:
    """``0.05`` (+-5 %), ``0.05:0.01`` (+-1..5 % in 1 % steps) or ``-0.05,0.03``."""
    if ":" in text:
        maximum, step = _floats(text.replace(":", ","), "--strain")
        return strain_steps(maximum, step)
    values = _floats(text, "--strain")
    if len(values) == 1:
        return [-abs(values[0]), abs(values[0])]
    return values


def _write(
    documents: list[StructureSetDocument], out: Path, formats: list[str], force: bool = False
) -> list[dict]:
    """Write every structure and summary.json into a temp dir, then move it to ``out``.

    An existing ``out`` is replaced only with ``force`` (and only once all is written).
    """
    check_new_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = []
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for document in documents:
            for record, structure in zip(document.records, document.structures, strict=True):
                stem = f"{document.kind}_{record.label}".replace("/", "_")
                if "poscar" in formats:
                    structure.to(filename=str(tmp / f"{stem}.vasp"), fmt="poscar")
                if "cif" in formats:
                    structure.to(filename=str(tmp / f"{stem}.cif"), fmt="cif")
                entry = record.model_dump(mode="json")
                entry["kind"] = document.kind
                entry["files"] = [
                    f"{stem}.vasp" if fmt == "poscar" else f"{stem}.cif" for fmt in formats
                ]
                summary.append(entry)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def _table(summary: list[dict]) -> Table:
    table = Table(title="structures")
    for column in ("kind", "label", "formula", "atoms", "space group", "Ewald (eV/atom)", "X@4c"):
        table.add_column(column, overflow="fold")
    for entry in summary:
        ewald = entry["ewald_energy"]
        fraction = entry["halide_4c_fraction"]
        table.add_row(
            entry["kind"],
            entry["label"],
            entry["formula"],
            str(entry["n_atoms"]),
            entry["space_group"],
            "" if ewald is None else f"{ewald / entry['n_atoms']:.4f}",
            "" if fraction is None else f"{100 * fraction:.0f} %",
        )
    return table


def structures(
    material: str = typer.Argument(
        ..., help="Li6PS5Cl|Li6PS5Br|Li6PS5I|LLZO|LSTH-1a|LSTH-24k, or a CIF/POSCAR path."
    ),
    out: Path = typer.Option(..., "--out", help="Output directory (new or empty)."),
    configurations: bool = typer.Option(
        False, "--configurations", help="Argyrodite: the six X@4c configurations."
    ),
    esgs: int = typer.Option(0, "--esgs", help="N lowest-Ewald-energy orderings."),
    esgs_method: str = typer.Option("auto", "--esgs-method", help="auto|enumerate|anneal."),
    sqs: bool = typer.Option(
        False, "--sqs", help="Special quasi-random structure (size: --sqs-atoms or --supercell)."
    ),
    sqs_atoms: int = typer.Option(
        None, "--sqs-atoms", help="SQS with >= N atoms (default 100; LSTH: 154)."
    ),
    sqs_cutoffs: str = typer.Option(
        None, "--sqs-cutoffs", help="SQS cluster cutoffs in Å: pairs,triplets,... (default 5,4)."
    ),
    sqs_steps: int = typer.Option(None, "--sqs-steps", help="SQS annealing steps (10000)."),
    sqs_count: int = typer.Option(
        1, "--sqs-count", help="Independent SQS (seeds seed, seed+1...)."
    ),
    strain: str = typer.Option(
        None,
        "--strain",
        help="Strain each structure along a, b, c, abc: 0.05 (+-5 %), 0.05:0.01 (steps).",
    ),
    volumes: str = typer.Option(
        None, "--volumes", help="Volume fractions, e.g. 0.85,0.9,1.0,1.1,1.3."
    ),
    supercell: str = typer.Option(None, "--supercell", help="Supercell, e.g. 3x3x3."),
    min_atoms: int = typer.Option(None, "--min-atoms", help="Supercell with >= N atoms."),
    min_length: float = typer.Option(
        None, "--min-length", help="Supercell with every width >= L Å."
    ),
    random: bool = typer.Option(
        False, "--random", help="Argyrodite random structure (configurations mixed)."
    ),
    temperature: float = typer.Option(300.0, "--temperature", help="Boltzmann T (K)."),
    weights: str = typer.Option(None, "--weights", help="User weights LABEL=W,... for --random."),
    gb: bool = typer.Option(False, "--gb", help="Σ5[100](021) grain boundary with regions."),
    gb_expand: int = typer.Option(1, "--gb-expand", help="GB grain thickness (repeats)."),
    lithium: str = typer.Option(
        None, "--lithium", help="Garnet Li_x La3Zr2O12 for x values, e.g. 6.25,6.5,7."
    ),
    amorphous: str = typer.Option(
        None,
        "--amorphous",
        help="Expand each structure to these volume fractions keeping fractional "
        "positions (the structure side of melt-quench), e.g. 1.05,1.10,1.15.",
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    formats: str = typer.Option("poscar,cif", "--formats", help="poscar,cif (files written)."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out."),
) -> None:
    """Build structures from MATERIAL and write them with a summary to --out."""
    check_new_output(out, force)
    wanted_formats = [f.strip().lower() for f in formats.split(",") if f.strip()]
    if not set(wanted_formats) <= {"poscar", "cif"}:
        raise IonflowInputError(f"--formats '{formats}': use poscar and/or cif")
    parent = get_parent_structure(material)
    scaling = parse_scaling(supercell) if supercell else None
    sized = scaling is not None or min_atoms is not None or min_length is not None
    makers: list[StructureSetMaker] = []
    if configurations:
        makers.append(ArgyroditeConfigurationsMaker())
    if random:
        makers.append(
            RandomStructureMaker(
                scaling=scaling or (3, 3, 3),
                temperature=temperature,
                weights=_weights(weights) if weights else None,
                seed=seed,
            )
        )
    if lithium:
        x_values = tuple(_floats(lithium, "--lithium"))
        makers.append(LithiumContentMaker(x_values=x_values, seed=seed))
    if gb:
        if not parent.is_ordered:
            raise IonflowInputError(f"--gb needs an ordered structure; {material} is disordered")
        makers.append(GrainBoundaryMaker(expand_times=gb_expand))
    if sqs:
        if min_atoms is not None or min_length is not None:
            raise IonflowInputError(
                "--sqs takes its size from --sqs-atoms or --supercell, not --min-atoms/--min-length"
            )
        options = {"cutoffs": tuple(_floats(sqs_cutoffs, "--sqs-cutoffs"))} if sqs_cutoffs else {}
        if sqs_steps is not None:
            options["n_steps"] = sqs_steps
        makers.append(
            SqsMaker(
                n_atoms=sqs_atoms, scaling=scaling, n_structures=sqs_count, seed=seed, **options
            )
        )
    elif sqs_atoms is not None or sqs_cutoffs or sqs_steps is not None:
        raise IonflowInputError("--sqs-atoms, --sqs-cutoffs and --sqs-steps need --sqs")
    ordering_base = parent
    if esgs:
        if sized:
            ordering_base = make_supercell(parent, scaling, min_atoms, min_length)
        makers.append(
            ElectrostaticGroundStateMaker(n_structures=esgs, method=esgs_method, seed=seed)
        )
    parent_document = StructureSetDocument.from_pairs(
        "parent", material, [(parent, {"transformation": "none", "label": "parent"})]
    )
    documents: list[StructureSetDocument] = []
    with console.status("building structures"):
        for maker in makers:
            base = ordering_base if maker.kind == "esgs" else parent
            documents.append(
                StructureSetDocument.from_pairs(maker.kind, material, maker.build(base))
            )
        if sized and not esgs and not random and not sqs:
            resize = SupercellMaker(scaling=scaling, min_atoms=min_atoms, min_length=min_length)
            documents = [_derive(doc, resize) for doc in documents or [parent_document]]
        sources = documents or [parent_document]
        derived = []
        if strain:
            strainer = StrainMaker(magnitudes=tuple(_strain_magnitudes(strain)))
            derived += [_derive(doc, strainer) for doc in sources]
        if volumes:
            scaler = VolumetricStrainMaker(fractions=tuple(_floats(volumes, "--volumes")))
            derived += [_derive(doc, scaler) for doc in sources]
        if amorphous:
            expander = AmorphousExpansionMaker(fractions=tuple(_floats(amorphous, "--amorphous")))
            derived += [_derive(doc, expander) for doc in sources]
        documents = sources + derived
    summary = _write(documents, out, wanted_formats, force)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        console.print(_table(summary))
        for entry in summary:
            error = entry["provenance"].get("correlation_error")
            if entry["kind"] == "sqs" and error:
                console.print(
                    f"{entry['label']}: correlation error max {error['max_abs']:.4f}, "
                    f"RMS {error['rms']:.4f} ({error['n_correlations']} correlations)"
                )
        console.print(f"wrote {len(summary)} structures and summary.json to {out}")


def _derive(document: StructureSetDocument, maker: StructureSetMaker) -> StructureSetDocument:
    """Apply ``maker`` to every structure of ``document``; labels say which one it came from."""
    pairs = []
    for record, structure in zip(document.records, document.structures, strict=True):
        for derived, how in maker.build(structure):
            how = {**how, "source": record.label, "label": f"{record.label}_{how['label']}"}
            for key in ("halide_4c_fraction",):
                if key in record.provenance and key not in how:
                    how[key] = record.provenance[key]
            pairs.append((derived, how))
    return StructureSetDocument.from_pairs(maker.kind, document.parent, pairs)


def register(app: typer.Typer) -> None:
    """Add the ``structures`` command to the ``ionflow`` app."""
    app.command(name="structures")(structures)
