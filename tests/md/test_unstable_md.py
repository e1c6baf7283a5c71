"""A run that explodes gives one clear error, not a bare LAMMPS message."""

import pytest

from ionflow.md.run import MdUnstableError
from ionflow.md.sets.wall import CoreRepulsion
from tests.fixtures.md import MD_SPECIES
from tests.md.helpers import one_stage_protocol, run_protocol


def test_runaway_md_is_reported_as_unstable(tmp_path, li2s_96):
    # Li2S squeezed to 45 % of its volume at 30000 K: far outside what the MTP knows
    squeezed = li2s_96.copy()
    squeezed.scale_lattice(li2s_96.volume * 0.45)
    protocol = one_stage_protocol("nve", 2000, 30000.0, timestep_fs=2.0, dump_every=100)
    with pytest.raises(MdUnstableError, match=r"became unstable .*MTP extrapolates"):
        run_protocol(tmp_path, protocol, squeezed)


def test_a_pair_through_the_wall_is_named(tmp_path, li2s_96):
    """At 300000 K two atoms pass the wall's 0.5 Å table edge: the error names the pair."""
    wall = CoreRepulsion.from_contacts({"Li-Li": 2.4, "Li-S": 2.5, "S-S": 3.9}, 0.9, MD_SPECIES)
    protocol = one_stage_protocol("nvt", 500, 300000.0, timestep_fs=2.0, dump_every=100)
    with pytest.raises(MdUnstableError, match=r"table inner cutoff: (Li-Li|Li-S|S-S) at 0\.\d\d Å"):
        run_protocol(tmp_path, protocol, li2s_96, wall.model_dump())


def test_volume_runaway_is_unstable(tmp_path):
    from ionflow.md.run import check_volume_stable

    check_volume_stable([1000.0, 1040.0, 960.0], tmp_path)  # a solid breathing: fine
    with pytest.raises(MdUnstableError, match="cell volume changed 5-fold"):
        check_volume_stable([1000.0, 3000.0, 5000.0], tmp_path)  # evaporated
    with pytest.raises(MdUnstableError, match="cell volume changed 2-fold"):
        check_volume_stable([1000.0, 500.0], tmp_path)  # collapsed
