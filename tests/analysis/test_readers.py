"""Trajectory readers: real LAMMPS binary/text dumps, truncation, wrapping, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from tests.fixtures.analysis import random_walk, write_text_dump

from ionflow.analysis.displacements import collect_species_trajectory
from ionflow.analysis.readers import open_trajectory, parse_type_map
from ionflow.errors import IonflowInputError

TYPE_MAP = parse_type_map("1=Li,2=P")


def collect(path, **kwargs):
    reader = open_trajectory(path, TYPE_MAP)
    return collect_species_trajectory(reader, "Li", **kwargs)


def test_binary_dump_from_lammps_matches_text_dumps(lammps_walk):
    binary = open_trajectory(lammps_walk.binary, TYPE_MAP)
    first = next(binary.frames())
    # triclinic prism 0 9 0 8 0 10 with tilts xy=1.5 xz=-1.0 yz=0.8
    expected_cell = np.array([[9.0, 0, 0], [1.5, 8.0, 0], [-1.0, 0.8, 10.0]])
    np.testing.assert_allclose(first.cell, expected_cell, atol=1e-12)
    assert first.unwrapped and binary.unit_style == "real"
    assert list(binary.species).count("Li") == lammps_walk.n_li
    from_binary = collect(lammps_walk.binary, timestep_fs=1.0)
    from_images = collect(lammps_walk.images, timestep_fs=1.0)
    from_wrapped = collect(lammps_walk.wrapped, timestep_fs=1.0)
    assert from_binary.n_frames == lammps_walk.n_frames
    # text dumps carry 6 significant digits
    np.testing.assert_allclose(from_images.positions, from_binary.positions, atol=1e-4)
    np.testing.assert_allclose(from_wrapped.positions, from_binary.positions, atol=1e-3)
    np.testing.assert_allclose(from_binary.time_fs, np.arange(lammps_walk.n_frames))


def test_binary_dump_time_from_header(lammps_walk):
    # `dump_modify time yes` stores the time: with `units real` it is already fs
    traj = collect(lammps_walk.binary)
    np.testing.assert_allclose(traj.time_fs[:3], [0.0, 1.0, 2.0])


def test_truncated_binary_dump_drops_the_last_frame(lammps_walk, tmp_path):
    raw = lammps_walk.binary.read_bytes()
    cut = tmp_path / "killed.bin"
    cut.write_bytes(raw[: len(raw) - 50])
    with pytest.warns(UserWarning, match="truncated"):
        traj = collect(cut, timestep_fs=1.0)
    assert traj.n_frames == lammps_walk.n_frames - 1


def test_truncated_text_dump_drops_the_last_frame(lammps_walk, tmp_path):
    lines = lammps_walk.images.read_text().splitlines(keepends=True)
    cut = tmp_path / "killed.dump"
    cut.write_text("".join(lines[:-3]))
    with pytest.warns(UserWarning, match="truncated"):
        traj = collect(cut, timestep_fs=1.0)
    assert traj.n_frames == lammps_walk.n_frames - 1


@pytest.mark.parametrize("columns", ["id type x y z", "z ix id y iz type x iy", "id type xu yu zu"])
def test_orthogonal_text_dump_layouts_unwrap_the_same(tmp_path, columns):
    walk = random_walk(5, 60, (0.05, 0.05, 0.05), 10.0, seed=3)
    types = np.array([1, 1, 1, 2, 2])
    walk[:, 3:] = walk[0, 3:]  # framework at rest
    path = write_text_dump(tmp_path / "w.dump", walk, types, (6.0, 7.0, 8.0), columns=columns)
    traj = collect(path, timestep_fs=1.0, remove_drift=False)
    expected = walk[:, :3].transpose(2, 1, 0)
    np.testing.assert_allclose(
        traj.positions - traj.positions[..., :1], expected - expected[..., :1], atol=1e-5
    )


@pytest.mark.parametrize("suffix", ["extxyz", "traj"])
def test_ase_formats_unwrap_by_minimum_image(tmp_path, suffix):
    walk = random_walk(4, 40, (0.02, 0.02, 0.02), 1.0, seed=5)
    cell = np.diag([5.0, 5.0, 5.0])
    frames = [Atoms("Li2S2", positions=p, cell=cell, pbc=True) for p in walk]
    for atoms in frames:
        atoms.wrap()
    path = tmp_path / f"walk.{suffix}"
    write(path, frames)
    traj = collect_species_trajectory(
        open_trajectory(path), "Li", timestep_fs=2.0, remove_drift=False
    )
    np.testing.assert_allclose(traj.time_fs[1], 2.0)
    unwrapped = traj.positions - traj.positions[..., :1]
    expected = walk[:, :2].transpose(2, 1, 0)
    np.testing.assert_allclose(unwrapped, expected - expected[..., :1], atol=1e-8)


def _dump(tmp_path, walk, steps=None, types=None):
    types = np.array([1, 1, 2]) if types is None else types
    return write_text_dump(tmp_path / "bad.dump", walk, types, (6.0, 6.0, 6.0), steps=steps)


def test_bad_input_is_one_clear_error(tmp_path):
    walk = random_walk(3, 10, (0.01,) * 3, 1.0, seed=1)
    with pytest.raises(IonflowInputError, match="not increasing"):
        collect(
            _dump(tmp_path, walk, steps=np.array([0, 1, 2, 3, 5, 4, 6, 7, 8, 9])), timestep_fs=1.0
        )
    nan_walk = walk.copy()
    nan_walk[4, 0, 0] = np.nan
    with pytest.raises(IonflowInputError, match="NaN"):
        collect(_dump(tmp_path, nan_walk), timestep_fs=1.0)
    with pytest.raises(IonflowInputError, match="species 'Na' not in"):
        collect_species_trajectory(open_trajectory(_dump(tmp_path, walk), TYPE_MAP), "Na")
    with pytest.raises(IonflowInputError, match="--timestep-fs"):
        collect(_dump(tmp_path, walk))
    path = _dump(tmp_path, walk)
    text = path.read_text()
    # drop one atom from the last frame
    head, last = text.rsplit("ITEM: TIMESTEP", 1)
    last = last.replace("NUMBER OF ATOMS\n3", "NUMBER OF ATOMS\n2")
    last = "\n".join(last.splitlines()[:-1]) + "\n"
    path.write_text(head + "ITEM: TIMESTEP" + last)
    with pytest.raises(IonflowInputError, match="atom count changes"):
        collect(path, timestep_fs=1.0)
    with pytest.raises(IonflowInputError, match="TYPE=SYMBOL"):
        parse_type_map("1:Li")
    with pytest.raises(IonflowInputError, match="not found"):
        open_trajectory(tmp_path / "missing.bin")


def test_general_triclinic_dumps_from_lammps(lammps_general_triclinic):
    from tests.fixtures.analysis import GENERAL_TRICLINIC_CELL

    restricted = next(open_trajectory(lammps_general_triclinic / "restricted.dump").frames())
    for name in ("general.bin", "general.dump"):
        frame = next(open_trajectory(lammps_general_triclinic / name).frames())
        np.testing.assert_allclose(frame.cell, GENERAL_TRICLINIC_CELL, atol=1e-9)
        # same crystal, rotated: volume and interatomic distances agree
        assert abs(np.linalg.det(frame.cell)) == pytest.approx(abs(np.linalg.det(restricted.cell)))
        dist = np.linalg.norm(frame.positions[1:] - frame.positions[0], axis=1)
        ref = np.linalg.norm(restricted.positions[1:] - restricted.positions[0], axis=1)
        np.testing.assert_allclose(dist, ref, atol=1e-4)
