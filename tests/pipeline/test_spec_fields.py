"""Every leaf field of a workflow spec changes the built Flow: none is silently ignored."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from ionflow.errors import IonflowInputError
from ionflow.pipeline.flow import PipelineMaker
from ionflow.pipeline.spec import WorkflowSpec, load_spec

WORKFLOWS = Path(__file__).parents[2] / "workflows"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _base_spec() -> dict:
    """The argyrodite spec with every optional stage switched on (so its fields can act)."""
    data = load_spec(WORKFLOWS / "li6ps5cl_optb88.yaml").model_dump(mode="json")
    data["mtp"]["active_learning"]["enabled"] = True
    data["grain_boundary"]["enabled"] = True
    data["md"]["species"] = ["Li", "S"]  # room for analysis.species to change
    data["analysis"]["sigma_amorphous_mS_cm"] = 0.1  # the series mixing rule needs one
    return data


def _study_spec() -> dict:
    """The LLZO strain/amorphous spec with its optional settings given (``volumes:``)."""
    data = load_spec(WORKFLOWS / "llzo_strain_amorphous.yaml").model_dump(mode="json")
    data["volumes"]["amorphous"]["potentials"] = ["mtp", "classical"]
    return data


# optional study sections: their fields are changed on a spec that switches them on
STUDY_BASES = {"volumes": _study_spec}


def _section(annotation) -> type[BaseModel] | None:
    """The model of a section annotation (``Model`` or ``Model | None``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [
        a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)
    ]
    return models[0] if len(models) == 1 and type(None) in typing.get_args(annotation) else None


def _leaves(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, info in model.model_fields.items():
        section = _section(info.annotation)
        if section is not None:
            paths += _leaves(section, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


def _annotation(path: tuple[str, ...]):
    model: type[BaseModel] = WorkflowSpec
    for name in path[:-1]:
        model = _section(model.model_fields[name].annotation)
    return model.model_fields[path[-1]].annotation


def _candidates(path: tuple[str, ...], value):
    """Changed values to try, in order; the first that makes a valid spec is used."""
    choices = typing.get_args(_annotation(path))
    if path == ("material",):
        return ["Li6PS5Br"]
    if path == ("site_variants",):  # two site variants of the material (each field: its test)
        return [[{"label": s, "material": "Li6PS5Cl", "configurations": "parent"} for s in "ab"]]
    if value is None:  # an optional setting left out: set it (int, fraction, memory, name)
        return [2, 0.5, "4G", "normal"]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [value * 0.9 + 0.001, value * 1.1 + 0.01]
    if isinstance(value, str):
        return [c for c in choices if isinstance(c, str) and c != value] + [
            "S",
            f"{value}-changed",
            f"9{value}",  # walltime 12:00:00 -> 912:00:00, memory 8G -> 98G
        ]
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return [[*value, value[-1] + 50], value[:-1], [value[0] + 1, *value[1:]]]
    if isinstance(value, list):
        return [value[:-1], value[::-1], [*value, "P"]] if value else [["changed"]]
    if isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values()):
        return [{k: v * 0.9 for k, v in value.items()}, {}] if value else [{"P": 2.0}]
    raise AssertionError(f"no mutation for {path} = {value!r}")


def _set(data: dict, path: tuple[str, ...], value) -> dict:
    data = json.loads(json.dumps(data))
    node = data
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] = value
    return data


def _fingerprint(data: dict) -> str | None:
    """The built Flow, serialised with its random uuids blanked; None for an invalid spec."""
    try:
        spec = WorkflowSpec.model_validate(data)
        flow = PipelineMaker.from_spec(spec).make(spec.material)
    except (ValidationError, IonflowInputError):
        return None
    return UUID.sub("uuid", json.dumps(flow.as_dict(), sort_keys=True, default=str))


# fields with no valid other value to try, and the proof that they are read instead
ONE_CHOICE = {("volumes", "classical_potential")}  # only one model is shipped


def test_the_classical_potential_name_is_read():
    data = _set(_study_spec(), ("volumes", "classical_potential"), "no-such-model")
    spec = WorkflowSpec.model_validate(data)
    with pytest.raises(IonflowInputError, match=r"volumes\.classical_potential"):
        PipelineMaker.from_spec(spec)


def test_every_spec_field_changes_the_built_flow():
    bases = {"": _base_spec()} | {name: make() for name, make in STUDY_BASES.items()}
    references = {name: _fingerprint(data) for name, data in bases.items()}
    assert None not in references.values()
    ignored, untestable = [], []
    leaves = _leaves(WorkflowSpec)
    assert ("dft", "aimd", "n_snapshots") in leaves  # the walk reached nested sections
    assert ("volumes", "amorphous", "melt_ps") in leaves  # and optional ones
    for path in leaves:
        if path in ONE_CHOICE:
            continue
        study = path[0] if path[0] in STUDY_BASES else ""
        base, reference = bases[study], references[study]
        value = base
        for name in path:
            value = value[name]
        for candidate in _candidates(path, value):
            fingerprint = _fingerprint(_set(base, path, candidate))
            if fingerprint is not None:
                if fingerprint == reference:
                    ignored.append(".".join(path))
                break
        else:
            untestable.append(".".join(path))
    assert not untestable, f"no valid change found for {untestable}"
    assert not ignored, f"spec fields that change nothing in the Flow: {ignored}"
