#!/usr/bin/env python3
"""Stand-in for the MLIP `mlp` binary: checks its arguments, writes recorded outputs.

Recorded outputs are in MLP_REPLAY_DIR; every call is appended to MLP_CALL_LOG.
"""

import os
import shutil
import sys
from pathlib import Path

args = sys.argv[1:]
with Path(os.environ["MLP_CALL_LOG"]).open("a") as log:
    log.write(" ".join(args) + "\n")
replay = Path(os.environ["MLP_REPLAY_DIR"])
command = args[0]
if command == "train":
    init, train_cfg = args[1], args[2]
    assert Path(init).read_text().startswith("MTP"), "initial potential is not an .mtp"
    assert "BEGIN_CFG" in Path(train_cfg).read_text(), "training set is not a .cfg"
    options = dict(a[2:].split("=", 1) for a in args[3:])
    assert set(options) == {
        "energy-weight",
        "force-weight",
        "stress-weight",
        "max-iter",
        "trained-pot-name",
    }, options
    shutil.copy(replay / "trained.mtp", options["trained-pot-name"])
elif command == "calc-efs":
    assert len(args) == 4
    shutil.copy(args[2], args[3])  # recorded: the reference labels themselves
elif command == "select-add":
    assert len(args) == 5
    shutil.copy(replay / "selected.cfg", args[4])
else:
    sys.exit(f"fake mlp: unknown command {command}")
