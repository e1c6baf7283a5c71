"""Validate a directory of configuration files and say exactly what is wrong.

Each problem is one line ``<file>: <what is wrong>``: a missing file, YAML that does not
parse, an unknown key (with the known ones), a value of the wrong type, a port outside
1-65535, a MongoDB URI that does not parse. Allowed keys come from the programs that read
the files (FireWorks' LaunchPad, FWorker and SLURM template, jobflow's and atomate2's
settings models, maggma's stores, ionflow's settings), so they follow those versions.
"""

from __future__ import annotations

import difflib
import inspect
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from ionflow.config.render import CONFIG_FILES, WALLTIME
from ionflow.errors import IonflowInputError
from ionflow.settings import ConfigError, check_private_file, load_settings

MAX_KEYS_LISTED = 16
DB_URI_SCHEMES = ("mongodb://", "mongodb+srv://")


def _init_params(cls: type) -> set[str]:
    """Keyword parameters accepted by ``cls(...)``, following ``**kwargs`` up the MRO."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names - {"self"}


def _unknown_keys(values: dict, known: set[str], where: str) -> list[str]:
    problems = []
    for key in values:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), sorted(known), n=1)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif len(known) <= MAX_KEYS_LISTED:
            hint = f"known: {', '.join(sorted(known))}"
        else:
            hint = f"{len(known)} known keys, none close"
        problems.append(f"{where}unknown key '{key}' ({hint})")
    return problems


def _check_port(value: Any, where: str) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return [f"{where}bad port {value!r} (an integer 1-65535)"]
    return []


def _check_uri(uri: Any, where: str) -> list[str]:
    """Parse a MongoDB URI without connecting (no DNS for mongodb+srv)."""
    if not isinstance(uri, str) or not uri.startswith(DB_URI_SCHEMES):
        return [f"{where}not a MongoDB URI: {uri!r} (mongodb://host:port/database)"]
    if uri.startswith("mongodb+srv://"):
        return []
    from pymongo import uri_parser

    try:
        parsed = uri_parser.parse_uri(uri)
    except Exception as exc:  # pymongo raises InvalidURI or ValueError
        message = str(exc).splitlines()[0]
        if "port" in message.lower():
            return [f"{where}bad port in MongoDB URI {uri!r}: {message}"]
        return [f"{where}bad MongoDB URI {uri!r}: {message}"]
    problems = []
    for _host, port in parsed["nodelist"]:
        problems += _check_port(port, f"{where}URI ")
    return problems


def _check_type(value: Any, annotation: Any, where: str) -> list[str]:
    try:
        TypeAdapter(annotation).validate_python(value, strict=True)
    except ValidationError as exc:
        expected = getattr(annotation, "__name__", str(annotation))
        msg = exc.errors()[0]["msg"]
        return [f"{where}wrong type {type(value).__name__} ({msg}; expected {expected})"]
    return []


def _check_launchpad(values: dict) -> list[str]:
    from fireworks import LaunchPad

    problems = _unknown_keys(values, _init_params(LaunchPad), "")
    if values.get("uri_mode"):
        problems += _check_uri(values.get("host"), "host: ")
    elif "host" in values and not isinstance(values["host"], str):
        problems.append(f"host: wrong type {type(values['host']).__name__} (expected str)")
    if "port" in values:
        problems += _check_port(values["port"], "port: ")
    for key in ("name", "username", "password", "authsource", "logdir"):
        if values.get(key) is not None and not isinstance(values[key], str):
            problems.append(f"{key}: wrong type {type(values[key]).__name__} (expected str)")
    return problems


def _check_fworker(values: dict) -> list[str]:
    from fireworks import FWorker

    problems = _unknown_keys(values, _init_params(FWorker), "")
    if not isinstance(values.get("name", ""), str):
        problems.append(f"name: wrong type {type(values['name']).__name__} (expected str)")
    return problems


def _slurm_template_keys() -> set[str]:
    import fireworks.user_objects.queue_adapters as adapters

    text = (Path(adapters.__file__).parent / "SLURM_template.txt").read_text()
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _check_qadapter(values: dict) -> list[str]:
    private = {"_fw_name", "_fw_q_type", "_fw_q_name", "_fw_template_file", "_fw_timeout"}
    known = _slurm_template_keys() | private | {"logdir", "_q_commands_override"}
    problems = _unknown_keys(values, known, "")
    if values.get("_fw_name") != "CommonAdapter":
        problems.append(f"_fw_name: {values.get('_fw_name')!r} (expected CommonAdapter)")
    if values.get("_fw_q_type") != "SLURM":
        problems.append(f"_fw_q_type: {values.get('_fw_q_type')!r} (expected SLURM)")
    if not values.get("rocket_launch"):
        problems.append("rocket_launch: missing (e.g. `rlaunch singleshot`)")
    for key in ("nodes", "ntasks", "ntasks_per_node", "cpus_per_task"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{key}: wrong type {type(value).__name__} (expected int)")
        elif value is not None and value < 1:
            problems.append(f"{key}: {value} (must be at least 1)")
    walltime = values.get("walltime")
    if walltime is not None and not WALLTIME.match(str(walltime)):
        problems.append(f"walltime: {walltime!r} (expected HH:MM:SS or D-HH:MM:SS)")
    for key in ("queue", "account", "job_name", "pre_rocket", "rocket_launch", "post_rocket"):
        if values.get(key) is not None and not isinstance(values[key], str):
            problems.append(f"{key}: wrong type {type(values[key]).__name__} (expected str)")
    return problems


def _maggma_stores() -> dict[str, type]:
    """Store classes by name, found the way jobflow's JobStore.from_dict_spec finds them."""
    import maggma.stores

    found: dict[str, type] = {}
    pending = [maggma.stores.Store]
    while pending:
        for sub in pending.pop().__subclasses__():
            found[sub.__name__] = sub
            pending.append(sub)
    return found


def _check_store(spec: Any, where: str) -> list[str]:
    if not isinstance(spec, dict):
        return [f"{where}expected a mapping with 'type', got {type(spec).__name__}"]
    kind = spec.get("type")
    store_cls = _maggma_stores().get(str(kind))
    if store_cls is None:
        return [f"{where}type: unknown maggma store {kind!r} (e.g. MongoStore)"]
    params = _init_params(store_cls)
    problems = _unknown_keys({k: v for k, v in spec.items() if k != "type"}, params, where)
    if "port" in spec:
        problems += _check_port(spec["port"], f"{where}port: ")
    if "uri" in spec:
        problems += _check_uri(spec["uri"], f"{where}uri: ")
    return problems


def _check_jobflow(values: dict) -> list[str]:
    from jobflow.settings import JobflowSettings

    fields = JobflowSettings.model_fields
    problems = _unknown_keys(values, set(fields), "")
    store = values.get("JOB_STORE")
    if not isinstance(store, dict):
        return [*problems, "JOB_STORE: expected a mapping with docs_store and additional_stores"]
    problems += _unknown_keys(store, {"docs_store", "additional_stores", "save", "load"}, "")
    problems += _check_store(store.get("docs_store"), "JOB_STORE.docs_store.")
    additional = store.get("additional_stores") or {}
    if "data" not in additional:
        problems.append("JOB_STORE.additional_stores: missing 'data' (a GridFSStore)")
    for name, spec in additional.items():
        problems += _check_store(spec, f"JOB_STORE.additional_stores.{name}.")
    for key, value in values.items():
        if key in fields and key != "JOB_STORE":
            problems += _check_type(value, fields[key].annotation, f"{key}: ")
    return problems


def _check_atomate2(values: dict) -> list[str]:
    from atomate2.settings import Atomate2Settings

    fields = Atomate2Settings.model_fields
    problems = _unknown_keys(values, set(fields), "")
    for key, value in values.items():
        if key in fields:
            problems += _check_type(value, fields[key].annotation, f"{key}: ")
    return problems


def _check_fw_config(values: dict) -> list[str]:
    from fireworks import fw_config

    known = {key for key in vars(fw_config) if key.isupper()} | {"ADD_USER_PACKAGES"}
    problems = _unknown_keys(values, known, "")
    config_dir = values.get("CONFIG_FILE_DIR")
    if config_dir is not None and not isinstance(config_dir, str):
        problems.append(f"CONFIG_FILE_DIR: wrong type {type(config_dir).__name__}")
    if values.get("PRINT_FW_JSON", True) is not True:
        problems.append(
            "PRINT_FW_JSON: must be true (a rerun MD job finds its interrupted launch in FW.json)"
        )
    return problems


CHECKS: dict[str, Callable[[dict], list[str]]] = {
    "my_launchpad.yaml": _check_launchpad,
    "my_fworker.yaml": _check_fworker,
    "my_qadapter.yaml": _check_qadapter,
    "FW_config.yaml": _check_fw_config,
    "jobflow.yaml": _check_jobflow,
    "atomate2.yaml": _check_atomate2,
}


def _check_ionflow_settings(path: Path) -> list[str]:
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return [str(exc)]
    return [f"{path}: {p}" for p in _check_uri(settings.db_uri, "db_uri: ")]


def find_config_problems(directory: Path) -> list[str]:
    """Check every configuration file in ``directory``.

    Args:
        directory: Directory written by ``ionflow config init``.

    Returns:
        One line per problem, ``<path>: <problem>``; empty when all files are valid.
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        return [f"{directory}: config directory not found (run `ionflow config init`)"]
    problems = []
    for name in CONFIG_FILES:
        path = directory / name
        if not path.is_file():
            problems.append(f"{path}: missing file (run `ionflow config init --dir {directory}`)")
            continue
        if name == "ionflow.yaml":
            problems += _check_ionflow_settings(path)
            continue
        try:
            values = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark else ""
            problems.append(f"{path}: not valid YAML{line}")
            continue
        if not isinstance(values, dict):
            problems.append(f"{path}: expected a mapping of keys, got {type(values).__name__}")
            continue
        problems += [f"{path}: {problem}" for problem in CHECKS[name](values)]
        try:
            check_private_file(path, values)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def check_config_dir(directory: Path) -> None:
    """Raise on the first problem of :func:`find_config_problems`.

    Raises:
        IonflowInputError: one line naming the file and what to fix.
    """
    problems = find_config_problems(directory)
    if problems:
        raise IonflowInputError(problems[0])
