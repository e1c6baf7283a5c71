"""Every `ionflow` command, fed malformed input of each kind a user brings.

Each case runs the real entry point in-process in an empty working directory and
checks the contract of ``ionflow.errors.IonflowInputError``: exit code 2, stderr is one
line ``ionflow: error: ...`` (no traceback), and nothing was written or changed (the
working directory's files, sizes and modification times are the same before and after).
``CASES`` must cover every command the app lists (``test_every_command_has_cases``);
the hypothesis tests below mutate valid files at random for the commands that read them.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.analysis import random_walk, write_text_dump

REPO = Path(__file__).resolve().parents[1]
MTP_LI_S = REPO / "data" / "md" / "li2s_level08.mtp"  # a fitted level-8 potential, Li,S

POSCAR = """Li2S
1.0
5.7 0.0 0.0
0.0 5.7 0.0
0.0 0.0 5.7
Li S
2 1
direct
0.25 0.25 0.25
0.75 0.75 0.75
0.0 0.0 0.0
"""


def _cfg_text() -> str:
    """A labelled Li-S set (two 12-atom cells) written by ionflow's own writer."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from pymatgen.io.ase import AseAtomsAdaptor

    from ionflow.io.mlip_cfg import write_labelled_cfg
    from tests.fixtures.dft import make_li2s

    images = []
    for a_A in (5.6, 5.8):
        atoms = AseAtomsAdaptor.get_atoms(make_li2s(a=a_A))
        atoms.rattle(0.05, seed=int(a_A * 10))
        forces = np.random.default_rng(0).normal(0, 0.1, (len(atoms), 3))
        atoms.calc = SinglePointCalculator(atoms, energy=-50.0 - a_A, forces=forces)
        images.append(atoms)
    with tempfile.TemporaryDirectory() as tmp:
        return write_labelled_cfg(images, Path(tmp) / "set.cfg", ["Li", "S"]).read_text()


CFG = _cfg_text()


def _dump_text() -> str:
    """A valid 6-frame LAMMPS text dump of 4 Li and 4 S atoms (random walk)."""
    positions = random_walk(8, 6, (0.01, 0.01, 0.01), 10.0, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.dump"
        write_text_dump(path, positions, np.array([1] * 4 + [2] * 4), (10.0, 10.0, 10.0))
        return path.read_text()


DUMP = _dump_text()
SPEC = "name: x\nmaterial: Li6PS5Cl\n"

# -- files each case may write into its working directory before the command runs
FILES: dict[str, Callable[[], str | bytes]] = {
    "garbage.vasp": lambda: "hello, I am not a structure\n",
    "empty.vasp": lambda: "",
    "unknown_element.vasp": lambda: POSCAR.replace("Li S", "Xx S"),
    "overlap.vasp": lambda: POSCAR.replace("0.75 0.75 0.75", "0.25 0.25 0.25"),
    "flat_cell.vasp": lambda: POSCAR.replace("0.0 0.0 5.7", "5.7 0.0 0.0"),
    "no_elements.vasp": lambda: POSCAR.replace("Li S\n", ""),
    "no_atoms.vasp": lambda: POSCAR.split("2 1\n")[0] + "0 0\ndirect\n",
    "no_atoms.cif": lambda: (
        "data_x\n"
        + "".join(
            f"_cell_{key} {value}\n"
            for key, value in zip(
                ["length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma"],
                [5, 5, 5, 90, 90, 90],
                strict=True,
            )
        )
    ),
    "nan.vasp": lambda: POSCAR.replace("0.75 0.75 0.75", "0.75 nan 0.75"),
    "good.vasp": lambda: POSCAR,
    "good.cfg": lambda: CFG,
    "no_end.cfg": lambda: CFG.replace("END_CFG", "", 1),
    "type_beyond.cfg": lambda: re.sub(r"^(\s+1\s+)0(\s)", r"\g<1>7\2", CFG, count=1, flags=re.M),
    "bad_size.cfg": lambda: re.sub(r"Size\n\s+12", "Size\n    twelve", CFG, count=1),
    "binary.cfg": lambda: bytes(range(256)),
    "unlabelled.cfg": lambda: re.sub(r" Energy\n\s+\S+\n", "", CFG, count=1),
    "good.mtp": lambda: MTP_LI_S.read_text(),
    "truncated.mtp": lambda: MTP_LI_S.read_text()[:1500],
    "garbage.mtp": lambda: "MTP\nspecies_count = many\n",
    "good.dump": lambda: DUMP,
    "empty.dump": lambda: "",
    "header_only.dump": lambda: DUMP.split("ITEM: ATOMS")[0],
    "garbage.dump": lambda: "ITEM: TIMESTEP\nbanana\n",
    "noise.bin": lambda: bytes(np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8)),
    "unknown_material.yaml": lambda: "name: x\nmaterial: Li6PS5Xx\n",
    "negative_T.yaml": lambda: SPEC + "md:\n  temperatures_K: [400, -300]\n",
    "zero_time.yaml": lambda: SPEC + "dft:\n  aimd:\n    duration_ps: 0\n",
    "zero_size.yaml": lambda: SPEC + "md:\n  supercell: [3, 0, 3]\n",
    "bad_level.yaml": lambda: (
        SPEC + "dft:\n  oracle: chgnet\n  levels_of_theory: [optB88-vdW]\n  fit_level: optB88-vdW\n"
    ),
    "not_yaml.yaml": lambda: "name: [x\n",
    "good.yaml": lambda: SPEC,
    "a_file": lambda: "x",
    "existing/keep.txt": lambda: "an earlier result",
    "existing.json": lambda: "{}",
    "old/report.html": lambda: "<html></html>",
    "existing.png": lambda: "png",
    "pot.mtp": lambda: MTP_LI_S.read_text(),
    "run/md_state.json": lambda: '{"segment": "first"',
    "badconfig/my_fworker.yaml": lambda: "name: x\ncategory: ''\nquery: '{}'\n",
    "badconfig/my_qadapter.yaml": lambda: "_fw_name: [unclosed\n",
}

# closed port: nothing listens there (the OS gives it out only to a bound socket)
DB_DOWN = {"IONFLOW_DB_URI": "mongodb://127.0.0.1:9/ionflow"}
DB_NOT_MONGO = {"IONFLOW_DB_URI": "http://127.0.0.1/ionflow"}
# `ionflow demo` starts the embedded server for a local db_uri that does not answer, so its
# unreachable database is a remote one (TEST-NET-1, RFC 5737: never routed)
DB_REMOTE_DOWN = {"IONFLOW_DB_URI": "mongodb://192.0.2.1:27017/ionflow"}
BAD_SETTINGS = {"IONFLOW_CONFIG_FILE": "settings_bad.yaml"}

# command -> [(kind of malformed input, argv after the command, extra environment,
#              text the one-line message must contain)]
Case = tuple[str, list[str], dict[str, str], str]
LI_S = ["--species", "Li,S"]
GRADE = ["good.mtp", "good.cfg", *LI_S, "--train"]
FIT = [*LI_S, "--out", "new.mtp"]
T500 = ["--temperature", "500", "--type-map", "1=Li,2=S"]
CASES: dict[str, list[Case]] = {
    "db install": [("option", ["--data-dir", "a_file"], {}, "a_file is a file")],
    "db start": [
        ("option", ["--port", "0"], {}, "--port"),
        ("option", ["--port", "abc"], {}, "--port"),
        ("option", ["--data-dir", "a_file"], {}, "a_file is a file"),
    ],
    "db stop": [
        ("option", ["--port", "70000"], {}, "--port"),
        ("option", ["--data-dir", "a_file"], {}, "a_file is a file"),
    ],
    "db status": [("option", ["--port", "-1"], {}, "--port")],
    "cluster up": [
        ("option", ["--timeout", "-1"], {}, "--timeout"),
        ("option", ["--work-dir", "a_file"], {}, "a_file is a file"),
    ],
    "cluster down": [("option", ["--work-dir", "a_file"], {}, "a_file is a file")],
    "cluster status": [("option", ["--work-dir", "a_file"], {}, "a_file is a file")],
    "cluster env": [("option", ["--work-dir", "a_file"], {}, "a_file is a file")],
    "config init": [
        ("option", ["--dir", "cfg", "--walltime", "soon"], {}, "walltime"),
        ("option", ["--dir", "cfg", "--db-uri", "http://x/db"], {}, "not a MongoDB URI"),
        ("option", ["--dir", "cfg", "--nodes", "0"], {}, "--nodes"),
    ],
    "config check": [("missing file", ["--dir", "no_such_dir"], {}, "no_such_dir")],
    "config show": [
        ("settings", [], BAD_SETTINGS, "settings_bad.yaml"),
        ("settings", [], {"IONFLOW_CONFIG_FILE": "settings_password.yaml"}, "chmod 600"),
    ],
    "structures": [
        ("material", ["Li6PS5Xx", "--out", "o"], {}, "unknown material 'Li6PS5Xx'"),
        ("structure file", ["garbage.vasp", "--out", "o"], {}, "garbage.vasp"),
        ("structure file", ["empty.vasp", "--out", "o"], {}, "empty.vasp"),
        ("structure file", ["unknown_element.vasp", "--out", "o"], {}, "Xx"),
        ("structure file", ["overlap.vasp", "--out", "o"], {}, "overlapping atoms"),
        ("structure file", ["flat_cell.vasp", "--out", "o"], {}, "volume"),
        ("structure file", ["no_elements.vasp", "--out", "o"], {}, "names no elements"),
        ("structure file", ["nan.vasp", "--out", "o"], {}, "NaN"),
        ("structure file", ["no_atoms.vasp", "--out", "o"], {}, "at least 1 site"),
        ("structure file", ["no_atoms.cif", "--out", "o"], {}, "no_atoms.cif"),
        ("option", ["good.vasp", "--out", "o", "--supercell", "0x1x1"], {}, "supercell"),
        ("option", ["good.vasp", "--out", "o", "--formats", "xyz"], {}, "--formats"),
        ("existing output", ["good.vasp", "--out", "existing"], {}, "--force"),
    ],
    "dft label": [
        ("missing file", ["no_such.vasp", "--oracle", "chgnet"], {}, "no_such.vasp"),
        ("structure file", ["garbage.vasp", "--oracle", "chgnet"], {}, "garbage.vasp"),
        ("structure file", ["unknown_element.vasp", "--oracle", "chgnet"], {}, "Xx"),
        ("structure file", ["overlap.vasp", "--oracle", "chgnet"], {}, "overlapping atoms"),
        ("structure file", ["flat_cell.vasp", "--oracle", "chgnet"], {}, "volume"),
        ("structure file", ["no_atoms.vasp", "--oracle", "chgnet"], {}, "at least 1 site"),
        ("structure file", ["good.vasp", "empty.vasp", "--oracle", "chgnet"], {}, "empty.vasp"),
        ("option", ["good.vasp", "--oracle", "chgnet", "--level", "optB88-vdW"], {}, "chgnet"),
        ("option", ["good.vasp", "--oracle", "gaussian"], {}, "gaussian"),
        ("option", ["good.vasp", "--oracle", "cp2k", "--cp2k-quality", "ultra"], {}, "ultra"),
        ("option", ["good.vasp", "--max-failed-fraction", "2"], {}, "--max-failed-fraction"),
        (
            "existing output",
            ["good.vasp", "--oracle", "chgnet", "--out", "existing"],
            {},
            "--force",
        ),
        ("settings", ["good.vasp"], BAD_SETTINGS, "settings_bad.yaml"),
    ],
    "mtp fit": [
        ("missing file", ["no_such.cfg", *FIT], {}, "no_such.cfg"),
        ("cfg", ["no_end.cfg", *FIT], {}, "no_end.cfg: configuration 1, line"),
        ("cfg", ["type_beyond.cfg", *FIT], {}, "atom type 7 is beyond the 2 species"),
        ("cfg", ["bad_size.cfg", *FIT], {}, "bad_size.cfg: configuration 1, line 3: Size"),
        ("cfg", ["binary.cfg", *FIT], {}, "binary.cfg"),
        ("cfg", ["unlabelled.cfg", *FIT], {}, "no Energy"),
        ("option", ["good.cfg", "--species", "Li,Xx", "--out", "new.mtp"], {}, "--species"),
        ("option", ["good.cfg", *FIT, "--level", "3"], {}, "--level"),
        ("mtp", ["good.cfg", *FIT, "--start-from", "truncated.mtp"], {}, "truncated.mtp: line"),
        ("existing output", ["good.cfg", *LI_S], {}, "pot.mtp already exists"),
    ],
    "mtp grade": [
        (
            "mtp",
            ["garbage.mtp", "good.cfg", *LI_S, "--train", "good.cfg"],
            {},
            "garbage.mtp: line 2: species_count",
        ),
        (
            "mtp",
            ["truncated.mtp", "good.cfg", *LI_S, "--train", "good.cfg"],
            {},
            "truncated.mtp: line",
        ),
        (
            "mtp",
            ["good.mtp", "good.cfg", "--species", "Li,P,S", "--train", "good.cfg"],
            {},
            "has 2 species",
        ),
        ("cfg", ["good.mtp", "no_end.cfg", *LI_S, "--train", "good.cfg"], {}, "no_end.cfg"),
        ("cfg", [*GRADE, "bad_size.cfg"], {}, "bad_size.cfg: configuration 1, line 3"),
        ("missing file", ["good.mtp", "good.cfg", *LI_S], {}, "good.train.cfg"),
    ],
    "md continue": [
        ("missing file", ["no_such_run"], {}, "no_such_run"),
        ("md state", ["run"], {}, "md_state.json"),
    ],
    "md plot": [
        ("md state", ["run", "--out", "t.png"], {}, "md_state.json"),
        ("existing output", ["run", "--out", "existing.png"], {}, "--force"),
    ],
    "analyze diffusion": [
        ("trajectory", ["no_such.dump", *T500], {}, "no_such.dump"),
        ("trajectory", ["empty.dump", *T500], {}, "empty.dump"),
        ("trajectory", ["header_only.dump", *T500], {}, "header_only.dump"),
        ("trajectory", ["garbage.dump", *T500], {}, "garbage.dump"),
        ("trajectory", ["noise.bin", *T500], {}, "noise.bin"),
        (
            "option",
            ["good.dump", "--temperature", "-5", "--type-map", "1=Li,2=S"],
            {},
            "--temperature",
        ),
        ("option", ["good.dump", "--temperature", "500", "--type-map", "1Li"], {}, "1Li"),
        ("existing output", ["good.dump", *T500, "--json", "existing.json"], {}, "--force"),
    ],
    "analyze arrhenius": [
        ("option", ["--run", "hot=good.dump", "--run", "600=good.dump"], {}, "hot=good.dump"),
        ("option", ["--run", "500=good.dump"], {}, "two or more temperatures"),
        ("trajectory", ["--run", "500=garbage.dump", "--run", "600=good.dump"], {}, "garbage.dump"),
        (
            "existing output",
            ["--run", "500=a", "--run", "600=b", "--plot", "existing.png"],
            {},
            "--force",
        ),
    ],
    "analyze regions": [
        ("option", ["good.dump", "--gb-planes", "0.5", "--axis", "q"], {}, "--axis"),
        ("option", ["good.dump", "--gb-planes", "half"], {}, "--gb-planes"),
        ("trajectory", ["noise.bin", "--gb-planes", "0.5"], {}, "noise.bin"),
        (
            "existing output",
            ["good.dump", "--gb-planes", "0.5", "--json", "existing.json"],
            {},
            "--force",
        ),
    ],
    "analyze sites": [
        ("trajectory", ["empty.dump"], {}, "empty.dump"),
        ("trajectory", ["garbage.dump"], {}, "garbage.dump"),
        ("existing output", ["good.dump", "--json", "existing.json"], {}, "--force"),
    ],
    "run": [
        ("missing file", ["no_such.yaml"], {}, "no_such.yaml"),
        ("spec", ["unknown_material.yaml"], {}, "unknown material 'Li6PS5Xx'"),
        ("spec", ["negative_T.yaml"], {}, "md.temperatures_K.1"),
        ("spec", ["zero_time.yaml"], {}, "dft.aimd.duration_ps"),
        ("spec", ["zero_size.yaml"], {}, "md.supercell.1"),
        ("spec", ["bad_level.yaml"], {}, "cannot compute optB88-vdW"),
        ("spec", ["not_yaml.yaml"], {}, "not valid YAML"),
        ("existing output", ["good.yaml", "--out", "existing"], {}, "--force"),
        ("database", ["good.yaml"], DB_DOWN, "cannot reach the database"),
    ],
    "submit": [
        ("spec", ["unknown_material.yaml"], DB_DOWN, "unknown material"),
        ("spec", ["negative_T.yaml"], DB_DOWN, "md.temperatures_K.1"),
        ("database", ["good.yaml"], DB_DOWN, "cannot reach the database"),
        ("database", ["good.yaml"], DB_NOT_MONGO, "not a MongoDB URI"),
        ("option", ["good.yaml", "--name", " "], DB_DOWN, "--name is empty"),
    ],
    "launch": [
        ("option", [], DB_DOWN, "give one of --local or --slurm"),
        ("option", ["--local", "--slurm"], DB_DOWN, "give one of --local or --slurm"),
        ("option", ["--slurm", "--max-jobs", "0"], DB_DOWN, "--max-jobs"),
        ("config", ["--slurm", "--config-dir", "nowhere"], DB_DOWN, "ionflow config init"),
        ("config", ["--slurm", "--config-dir", "badconfig"], DB_DOWN, "cannot be read"),
        ("database", ["--local"], DB_DOWN, "cannot reach the database"),
    ],
    "results": [
        ("database", [], DB_DOWN, "cannot reach the database"),
        ("settings", [], BAD_SETTINGS, "settings_bad.yaml"),
    ],
    "status": [
        ("database", [], DB_DOWN, "cannot reach the database"),
        ("settings", [], BAD_SETTINGS, "settings_bad.yaml"),
    ],
    "resume": [
        ("database", [], DB_DOWN, "cannot reach the database"),
        ("option", ["--max-retries", "-1"], DB_DOWN, "--max-retries"),
    ],
    "watch": [
        ("database", [], DB_DOWN, "cannot reach the database"),
        ("option", ["--interval", "0"], DB_DOWN, "--interval"),
        ("option", ["--passes", "0"], DB_DOWN, "--passes"),
    ],
    "report": [
        ("existing output", ["--out", "old"], DB_DOWN, "--force"),
        ("option", ["--force-target-ev-a", "0"], DB_DOWN, "--force-target-ev-a"),
        ("database", [], DB_DOWN, "cannot reach the database"),
    ],
    "demo": [
        ("spec", ["--spec", "bad_level.yaml"], DB_REMOTE_DOWN, "bad_level.yaml"),
        ("database", [], DB_REMOTE_DOWN, "cannot reach the database"),
    ],
}
# commands that take no input a user could get wrong
NO_INPUT = {"version", "dft levels"}
# `config check` reports one line per problem it finds
MULTI_LINE = {"config check"}
MAX_LINE = 400  # characters: a sentence with a path in it, not a dump


def app_commands() -> set[str]:
    """Every command path of the `ionflow` app ('db start', 'structures', ...)."""
    import typer

    from ionflow.cli.main import build_app

    def walk(command, prefix: str) -> Iterator[str]:
        children = getattr(command, "commands", None)
        if not children:
            yield prefix
            return
        for name, child in children.items():
            yield from walk(child, f"{prefix} {name}".strip())

    return set(walk(typer.main.get_command(build_app()), ""))


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file and directory under ``root``."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
    }


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables (and reload ionflow's settings) for one command."""
    from ionflow import settings as settings_module

    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    settings_module.SETTINGS_CACHE.clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings_module.SETTINGS_CACHE.clear()


def run_ionflow(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run ``ionflow *args`` in-process in ``cwd``; return (exit code, stderr)."""
    from ionflow.cli.main import main

    err, out = io.StringIO(), io.StringIO()
    old_cwd, old_argv = Path.cwd(), sys.argv
    os.chdir(cwd)
    sys.argv = ["ionflow", *args]
    try:
        with environment(env), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
    return code, err.getvalue()


def assert_refused(command: str, args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run the command; assert exit 2, one short ``ionflow: error:`` line, nothing written."""
    before = snapshot(cwd)
    code, stderr = run_ionflow([*command.split(), *args], cwd, env)
    lines = stderr.strip().splitlines()
    assert code == 2, f"ionflow {command} {args}: exit {code}\n{stderr}"
    assert "Traceback" not in stderr and lines, stderr
    assert all(line.startswith("ionflow: error: ") for line in lines), stderr
    assert len(lines) == 1 or command in MULTI_LINE, stderr
    assert all(len(line) <= MAX_LINE for line in lines), stderr
    assert snapshot(cwd) == before, f"ionflow {command} {args} wrote or changed files"
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding every input file, with settings isolated in it."""
    for name, content in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content()
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
    (tmp_path / "settings_bad.yaml").write_text("db_uri: [unclosed\n")
    readable = tmp_path / "settings_password.yaml"  # a password others can read
    readable.write_text("db_uri: mongodb://ada:s3cret@127.0.0.1:9/ionflow\n")
    readable.chmod(0o644)
    settings_file = tmp_path.parent / f"{tmp_path.name}-settings.yaml"
    settings_file.write_text(f"data_dir: {tmp_path.parent / 'ionflow-data'}\n")
    monkeypatch.setenv("IONFLOW_CONFIG_FILE", str(settings_file))
    for key in ("IONFLOW_DB_URI", "IONFLOW_ORACLE"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def test_every_command_has_cases():
    """A new command without malformed-input cases here fails this test."""
    assert app_commands() - NO_INPUT == set(CASES), "add cases for new commands to CASES"


@pytest.mark.parametrize(
    ("command", "kind", "args", "env", "expected"),
    [(command, *case) for command, cases in CASES.items() for case in cases],
    ids=[f"{command}:{case[0]}:{i}" for command, cases in CASES.items()
         for i, case in enumerate(cases)],
)  # fmt: skip
def test_malformed_input_is_refused_in_one_line(command, kind, args, env, expected, workdir):
    line = assert_refused(command, args, workdir, env)
    assert expected in line, f"{kind}: {line}"


def test_launchpad_missing_is_one_line(db_uri, workdir):
    """A reachable database without a FireWorks LaunchPad: say how to initialise it.

    (``submit`` initialises it: tests/pipeline/test_submit.py.)
    """
    env = {"IONFLOW_DB_URI": db_uri}
    for command in ("status", "results", "resume", "watch"):
        assert "`ionflow submit SPEC` initialises it" in assert_refused(command, [], workdir, env)


def test_report_of_a_workflow_not_stored_is_one_line(db_uri, workdir):
    env = {"IONFLOW_DB_URI": db_uri}
    assert "no workflow report stored yet" in assert_refused("report", [], workdir, env)
    unknown = "00000000-0000-4000-8000-000000000000"
    assert "no stored job of workflow" in assert_refused("report", [unknown], workdir, env)


def test_credentials_are_never_printed(workdir):
    line = assert_refused(
        "status", [], workdir, {"IONFLOW_DB_URI": "mongodb://ada:s3cret@127.0.0.1:9/ionflow"}
    )
    assert "s3cret" not in line and "ada:***@" in line


# ---------------------------------------------------------------- property-based
HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def mutate(text: str, data: st.DataObject) -> str:
    """Delete, duplicate or corrupt one line, or cut the text at a random point."""
    lines = text.splitlines(keepends=True)
    index = data.draw(st.integers(0, len(lines) - 1), label="line")
    how = data.draw(st.sampled_from(["delete", "duplicate", "corrupt", "cut"]), label="how")
    if how == "delete":
        del lines[index]
    elif how == "duplicate":
        lines.insert(index, lines[index])
    elif how == "corrupt":
        tokens = lines[index].split() or [""]
        position = data.draw(st.integers(0, len(tokens) - 1), label="token")
        tokens[position] = data.draw(
            st.sampled_from(["nan", "-1", "1e999", "Xx", "", "banana", "3.5.1", "99"]),
            label="replacement",
        )
        lines[index] = " ".join(tokens) + "\n"
    else:
        return text[: data.draw(st.integers(0, len(text)), label="cut")]
    return "".join(lines)


def refused_or_accepted(
    workdir: Path, files: dict[str, str], command: str, args: list[str], output: str | None
) -> None:
    """Write ``files`` into a fresh directory and run the command there: either a clean
    refusal (exit 2, one line, nothing written) or success that wrote ``output``."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        for name, text in files.items():
            (root / name).write_text(text)
        before = snapshot(root)
        code, stderr = run_ionflow([*command.split(), *args], root, {})
        assert "Traceback" not in stderr, stderr
        if code == 0:
            assert output is None or (root / output).exists()
            return
        lines = stderr.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("ionflow: error: "), stderr
        assert len(lines[0]) <= MAX_LINE, stderr
        assert snapshot(root) == before


@HYPOTHESIS
@given(data=st.data())
def test_mutated_structure_files_property(data, workdir):
    """`ionflow structures` on a randomly damaged POSCAR: refused cleanly or built."""
    files = {"cell.vasp": mutate(POSCAR, data)}
    refused_or_accepted(workdir, files, "structures", ["cell.vasp", "--out", "o"], "o")


@HYPOTHESIS
@given(data=st.data())
def test_mutated_cfg_files_property(data, workdir):
    """`ionflow mtp grade` on a randomly damaged .cfg: refused naming the line, or graded."""
    files = {"pot.mtp": MTP_LI_S.read_text(), "train.cfg": CFG, "new.cfg": mutate(CFG, data)}
    args = ["pot.mtp", "new.cfg", "--species", "Li,S", "--train", "train.cfg"]
    refused_or_accepted(workdir, files, "mtp grade", args, None)


@HYPOTHESIS
@given(
    temperatures=st.lists(st.floats(-1000, 2000, allow_nan=False), min_size=0, max_size=3),
    duration=st.floats(-5, 20, allow_nan=False),
    supercell=st.lists(st.integers(-1, 3), min_size=3, max_size=3),
)
def test_spec_numbers_property(temperatures, duration, supercell, workdir):
    """`ionflow submit`: a spec with a non-positive T, time or size is refused at load
    (naming the spec); a valid one gets as far as the database (a non-MongoDB URI here)."""
    spec = (
        f"name: x\nmaterial: Li6PS5Cl\nmd:\n  temperatures_K: {temperatures}\n"
        f"  supercell: {supercell}\ndft:\n  aimd:\n    duration_ps: {duration}\n"
    )
    valid = bool(temperatures) and min(temperatures) > 0 and duration > 0 and min(supercell) > 0
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        (root / "spec.yaml").write_text(spec)
        line = assert_refused("submit", ["spec.yaml"], root, DB_NOT_MONGO)
    assert ("not a MongoDB URI" in line) == valid and ("spec.yaml" in line) != valid, line


@HYPOTHESIS
@given(data=st.data())
def test_mutated_trajectories_property(data, workdir):
    """`ionflow analyze diffusion` on a randomly damaged text dump: clean refusal or a D."""
    args = ["t.dump", "--temperature", "500", "--type-map", "1=Li,2=S", "--json", "d.json"]
    files = {"t.dump": mutate(DUMP, data)}
    refused_or_accepted(workdir, files, "analyze diffusion", args, "d.json")


def test_submit_and_status_with_a_launchpad(launchpad, db_uri, workdir):
    """The checks let good input through: a reset LaunchPad takes a workflow, `status`
    lists it (the database check is not a wall)."""
    env = {"IONFLOW_DB_URI": db_uri}
    spec = REPO.parent / "workflows" / "demo_li6ps5cl_chgnet.yaml"
    code, stderr = run_ionflow(["submit", str(spec)], workdir, env)
    assert code == 0, stderr
    assert launchpad.workflows.count_documents({"name": {"$regex": "demo-li6ps5cl"}}) == 1
    code, stderr = run_ionflow(["status"], workdir, env)
    assert code == 0, stderr


def test_credentials_the_server_refuses_are_one_line(embedded_db, workdir):
    """Credentials on the embedded server (it has no users: pymongo's login breaks off
    with a KeyError) are one line about the login, without the password."""
    uri = embedded_db.replace("mongodb://", "mongodb://ada:s3cret@") + "ionflow?authSource=admin"
    line = assert_refused("status", [], workdir, {"IONFLOW_DB_URI": uri})
    assert "did not complete the login" in line and "s3cret" not in line
