#!/usr/bin/env python3
"""Stand-in for the MLIP `mlp` binary: checks its arguments, writes recorded outputs.

MLP_DIALECT chooses the command set: ``mlip2`` (``train --trained-pot-name``,
``calc-efs``, ``calc-grade``, ``select-add``) or ``mlip3`` (``train --save_to``,
``calculate_efs``, ``calculate_grade``, ``select_add`` and ``.almtp`` potentials; outputs
carry the ``.0`` rank suffix of an MPI build). ``mlp list`` prints the command list of
that version (``mlp_list_<dialect>.txt`` beside this file, taken from the command tables
of the MLIP-2 and MLIP-3 sources). Recorded outputs are in MLP_REPLAY_DIR (MLP_SELECT: the
indices of the candidates a recorded ``select-add`` chose); every call is appended to
MLP_CALL_LOG. Argument conventions follow MLIP's ``ParseOptions``:
``--key=value`` options, everything else positional.
"""

import os
import re
import shutil
import sys
from pathlib import Path

MLIP3_STATE = b"\n#MVS_v1.1\nenergy_weight 0\nforce_weight 0\nstress_weight 0\nsite_en_weight 1\n"
MLIP3_TRAIN_OPTIONS = {
    "save_to", "energy_weight", "force_weight", "stress_weight", "weight_scaling",
    "weight_scaling_forces", "scale_by_force", "iteration_limit", "tolerance", "init_random",
    "no_mindist_update", "al_mode", "log",
}  # fmt: skip
MLIP2_TRAIN_OPTIONS = {
    "energy-weight", "force-weight", "stress-weight", "scale-by-force", "valid-cfgs",
    "max-iter", "curr-pot-name", "trained-pot-name", "bfgs-conv-tol", "weighting",
    "init-params", "skip-preinit", "update-mindist",
}  # fmt: skip


def write_selected(candidates_cfg: str, out: str) -> None:
    """The recorded selection: MLP_SELECT (candidate indices) or ``selected.cfg``."""
    chosen = os.environ.get("MLP_SELECT")
    if chosen is None:
        shutil.copy(replay / "selected.cfg", out)
        return
    blocks = re.findall(r"BEGIN_CFG.*?END_CFG\n", Path(candidates_cfg).read_text(), re.S)
    Path(out).write_text("".join(blocks[int(i)] for i in chosen.split(",")))


argv = sys.argv[1:]
with Path(os.environ["MLP_CALL_LOG"]).open("a") as log:
    log.write(" ".join(argv) + "\n")
dialect = os.environ["MLP_DIALECT"]
replay = Path(os.environ.get("MLP_REPLAY_DIR", "."))
command = argv[0] if argv else "help"
args = [a for a in argv[1:] if not a.startswith("--")]
options = dict([*a[2:].split("=", 1), ""][:2] for a in argv[1:] if a.startswith("--"))


def need(n_args: int, allowed: set[str] = frozenset()) -> None:
    assert len(args) == n_args, f"mlp {command}: {n_args} arguments required, got {args}"
    assert set(options) <= set(allowed), f"mlp {command}: unknown options {options}"


def is_mtp(path: str) -> bytes:
    raw = Path(path).read_bytes()
    assert raw.startswith(b"MTP\n"), f"{path} is not an MTP potential"
    return raw


def is_cfg(path: str) -> None:
    assert "BEGIN_CFG" in Path(path).read_text(), f"{path} is not a .cfg"


if command == "list":
    print((Path(__file__).parent / f"mlp_list_{dialect}.txt").read_text(), end="")
elif dialect == "mlip2" and command == "train":
    need(2, MLIP2_TRAIN_OPTIONS)
    is_mtp(args[0])
    is_cfg(args[1])
    assert {"energy-weight", "force-weight", "stress-weight", "max-iter"} <= set(options)
    shutil.copy(replay / "trained.mtp", options["trained-pot-name"])
elif dialect == "mlip2" and command == "calc-efs":
    need(3)
    is_mtp(args[0])
    shutil.copy(args[1], args[2])  # recorded: the reference labels themselves
elif dialect == "mlip2" and command == "calc-grade":
    need(4, {"init-threshold", "select-threshold", "swap-threshold", "als-filename"})
    is_mtp(args[0])
    is_cfg(args[1])
    is_cfg(args[2])
    Path(options.get("als-filename", "state.als")).write_text("recorded active-learning state\n")
    shutil.copy(replay / "graded.cfg", args[3])
elif dialect == "mlip2" and command == "select-add":
    need(4, {"init-threshold", "select-threshold", "swap-threshold", "als-filename",
             "selected-filename", "selection-limit", "weighting"})  # fmt: skip
    is_mtp(args[0])
    write_selected(args[2], args[3])
elif dialect == "mlip3" and command == "train":
    need(2, MLIP3_TRAIN_OPTIONS)
    potential = is_mtp(args[0]).split(b"#", 1)[0]
    is_cfg(args[1])
    assert options.get("al_mode", "nbh") in {"cfg", "nbh"}
    if options.get("iteration_limit") == "0":  # active set only: coefficients unchanged
        assert options.get("no_mindist_update") == "true"
        trained = potential
    else:
        trained = (replay / "trained.mtp").read_bytes()
    Path(options.get("save_to", args[0])).write_bytes(trained.rstrip() + MLIP3_STATE)
elif dialect == "mlip3" and command == "calculate_efs":
    need(2, {"output_filename"})
    is_mtp(args[0])
    shutil.copy(args[1], options["output_filename"] + ".0")
elif dialect == "mlip3" and command == "calculate_grade":
    need(3, {"log", "threshold_save", "threshold_break"})
    assert MLIP3_STATE.strip() in is_mtp(args[0]), "No selection data provided with MLIP"
    is_cfg(args[1])
    shutil.copy(replay / "graded.cfg", args[2] + ".0")
elif dialect == "mlip3" and command == "select_add":
    need(4, {"swap_limit", "log"})
    assert MLIP3_STATE.strip() in is_mtp(args[0]), "select_add wants the .almtp active set"
    is_cfg(args[1])
    is_cfg(args[2])
    write_selected(args[2], args[3])
else:  # as the real mlp: a message, and exit code 0
    print(f"Error: command {command} does not exist.")
