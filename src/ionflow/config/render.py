"""Render a user's configuration files from the templates shipped with ionflow.

The templates in ``ionflow/config/templates/`` are the only copy of each file: FireWorks
(``my_launchpad.yaml``, ``my_fworker.yaml``, ``my_qadapter.yaml``, ``FW_config.yaml``),
jobflow (``jobflow.yaml``) and atomate2 (``atomate2.yaml``). ``ionflow.yaml`` is written
from the fields of :class:`ionflow.settings.IonflowSettings`, so it follows the settings
model. They are package data, so an editable install and a wheel find them the same way.
"""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from ionflow.cluster.slurm_jobs import WALLTIME
from ionflow.db.stores import DATA_COLLECTION, DOCS_COLLECTION, database_name
from ionflow.errors import IonflowInputError
from ionflow.settings import DEFAULT_CONFIG_FILE, IonflowSettings

TEMPLATES_DIR = Path(__file__).with_name("templates")
CONFIG_FILES = (
    "my_launchpad.yaml",
    "my_fworker.yaml",
    "my_qadapter.yaml",
    "FW_config.yaml",
    "jobflow.yaml",
    "atomate2.yaml",
    "ionflow.yaml",
)
DEFAULT_CONFIG_DIR = DEFAULT_CONFIG_FILE.parent

# placeholder paths of the example files in the repository's configs/ directory
EXAMPLE_CONFIG_DIR = Path("/path/to/config-dir")
EXAMPLE_BIN_DIR = Path("/path/to/venv/bin")


@dataclass
class ConfigOptions:
    """What a user chooses in ``ionflow config init`` (defaults: the embedded setup).

    Attributes:
        config_dir: Directory the files are written to (absolute).
        db_uri: MongoDB URI shared by FireWorks, jobflow and ionflow.
        partition: SLURM partition of the queue jobs.
        account: SLURM account (None: no ``--account`` line).
        nodes: Nodes per queue job.
        ntasks: MPI tasks per queue job.
        walltime: Wall time per queue job, ``HH:MM:SS`` or ``D-HH:MM:SS``.
        modules: Environment modules loaded in each job (``module load ...``).
        pre_rocket: Extra shell lines run in each job before ``rlaunch``.
        job_name: SLURM job name.
        fworker_name: FireWorks worker name.
        mpi_prefix: Prefix for parallel programs, e.g. ``srun`` (empty: none).
        bin_dir: Directory holding ``rlaunch`` and ``ionflow`` (the current environment).
    """

    config_dir: Path = DEFAULT_CONFIG_DIR
    db_uri: str = IonflowSettings.model_fields["db_uri"].default
    partition: str = "local"
    account: str | None = None
    nodes: int = 1
    ntasks: int = 1
    walltime: str = "01:00:00"
    modules: list[str] = field(default_factory=list)
    pre_rocket: list[str] = field(default_factory=list)
    job_name: str = "ionflow"
    fworker_name: str = "ionflow"
    mpi_prefix: str = ""
    bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)

    def __post_init__(self) -> None:
        if not WALLTIME.match(self.walltime):
            raise IonflowInputError(
                f"walltime {self.walltime!r}: expected HH:MM:SS or D-HH:MM:SS, e.g. 01:00:00"
            )
        database_name(self.db_uri)  # raises on anything but a MongoDB URI
        if self.nodes < 1 or self.ntasks < 1:
            raise IonflowInputError(f"nodes={self.nodes}, ntasks={self.ntasks}: must be >= 1")

    @classmethod
    def example(cls) -> ConfigOptions:
        """Return the options of the example files in the repository's ``configs/``."""
        return cls(config_dir=EXAMPLE_CONFIG_DIR, bin_dir=EXAMPLE_BIN_DIR)

    @property
    def db_name(self) -> str:
        """Database named in the URI path, else the ``db_name`` setting's default."""
        return database_name(self.db_uri, IonflowSettings.model_fields["db_name"].default)

    def config_env(self) -> dict[str, str]:
        """Return the environment variables that point programs at these files."""
        directory = self.config_dir
        return {
            "IONFLOW_CONFIG_FILE": str(directory / "ionflow.yaml"),
            "FW_CONFIG_FILE": str(directory / "FW_config.yaml"),
            "JOBFLOW_CONFIG_FILE": str(directory / "jobflow.yaml"),
            "ATOMATE2_CONFIG_FILE": str(directory / "atomate2.yaml"),
        }


def _yaml(value: object) -> str:
    """Return ``value`` as an inline YAML scalar (JSON is a subset of YAML)."""
    return json.dumps(value)


def _literal_block(lines: list[str], indent: str = "  ") -> str:
    """Return lines as a YAML literal block scalar (``|-``)."""
    return "|-\n" + "\n".join(indent + line for line in lines)


def _pre_rocket_lines(options: ConfigOptions) -> list[str]:
    lines = [f"module load {' '.join(options.modules)}"] if options.modules else []
    lines += list(options.pre_rocket)
    lines.append(f"export PATH={shlex.quote(str(options.bin_dir))}:$PATH")
    env = options.config_env()
    lines += [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    return lines


def _settings_yaml(options: ConfigOptions) -> str:
    """Write ionflow.yaml: every setting with its description, chosen values filled in."""
    chosen = {"db_uri": options.db_uri, "mpi_prefix": options.mpi_prefix}
    lines = ["# ionflow settings (see `ionflow.settings.IonflowSettings`). Written by"]
    lines.append("# `ionflow config init`; IONFLOW_* environment variables override them.")
    for name, info in IonflowSettings.model_fields.items():
        lines += textwrap.wrap(
            info.description or "", 88, initial_indent="# ", subsequent_indent="# "
        )
        if info.default_factory is not None:
            # machine-dependent default ($XDG_DATA_HOME): left to the settings, shown only
            factory = info.default_factory.__name__
            lines.append(f"# {name}: ...  (default from ionflow.settings.{factory}())")
            continue
        value = chosen.get(name, info.default)
        lines.append(f"{name}: {_yaml(value)}")
    return "\n".join(lines) + "\n"


def render_configs(options: ConfigOptions) -> dict[str, str]:
    """Render every configuration file for ``options``.

    Returns:
        File name -> file text, for each name in :data:`CONFIG_FILES`.
    """
    prefix = f"{options.mpi_prefix} " if options.mpi_prefix else ""
    defaults = IonflowSettings.model_fields
    values = {
        "db_uri": _yaml(options.db_uri),
        "db_name": _yaml(options.db_name),
        "docs_collection": _yaml(DOCS_COLLECTION),
        "data_collection": _yaml(DATA_COLLECTION),
        "fworker_name": _yaml(options.fworker_name),
        "partition": _yaml(options.partition),
        "account": _yaml(options.account),
        "nodes": _yaml(options.nodes),
        "ntasks": _yaml(options.ntasks),
        "walltime": _yaml(options.walltime),
        "job_name": _yaml(options.job_name),
        "pre_rocket": _literal_block(_pre_rocket_lines(options)),
        "config_dir": str(options.config_dir),
        # FireWorks' rlaunch recording SLURM_JOB_ID in the launch (ionflow.pipeline.rocket)
        "rocket_launch": _yaml(
            f"python -m ionflow.pipeline.rocket -c {shlex.quote(str(options.config_dir))} "
            "singleshot"
        ),
        "vasp_cmd": _yaml(prefix + defaults["vasp_cmd"].default),
        "vasp_gamma_cmd": _yaml(prefix + defaults["vasp_gamma_cmd"].default),
        "cp2k_cmd": _yaml(prefix + defaults["cp2k_cmd"].default),
        "lammps_cmd": _yaml(prefix + defaults["lmp_cmd"].default),
    }
    rendered = {}
    for name in CONFIG_FILES:
        if name == "ionflow.yaml":
            rendered[name] = _settings_yaml(options)
        else:
            template = Template((TEMPLATES_DIR / name).read_text())
            rendered[name] = template.substitute(values)
    return rendered


def write_configs(
    options: ConfigOptions, overwrite: bool = False, directory: Path | None = None
) -> list[Path]:
    """Write the rendered files into ``directory`` (default ``options.config_dir``).

    Args:
        options: The user's choices.
        overwrite: Replace files that already exist.
        directory: Where to write, when not where the files will be used (examples).

    Returns:
        The paths written.

    Raises:
        IonflowInputError: if a file exists and ``overwrite`` is False.
    """
    directory = Path(directory if directory is not None else options.config_dir)
    rendered = render_configs(options)
    existing = [directory / name for name in rendered if (directory / name).exists()]
    if existing and not overwrite:
        raise IonflowInputError(
            f"{existing[0]} already exists; pass --force to overwrite the config files in "
            f"{directory}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in rendered.items():
        path = directory / name
        path.write_text(text)
        path.chmod(0o600)  # they may hold the database password (ionflow refuses them else)
        paths.append(path)
    return paths
