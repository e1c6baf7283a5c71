"""Region-resolved D (GB slabs) and site statistics on constructed trajectories."""

from __future__ import annotations

import numpy as np
import pytest
from tests.fixtures.analysis import random_walk

from ionflow.analysis.displacements import from_positions
from ionflow.analysis.msd import species_msd
from ionflow.analysis.regions import (
    REGION_NAMES,
    assign_slab_regions,
    density_profile,
    masked_msd,
    region_counts,
    region_diffusion,
)
from ionflow.analysis.schemas.regions import SiteDocument
from ionflow.analysis.sites import (
    assign_sites,
    density_sites,
    graph_connectivity,
    graph_order_parameter,
    jump_graph,
    site_statistics,
)

DT_FS = 20.0


def test_masked_msd_with_all_origins_is_the_plain_msd():
    walk = random_walk(6, 120, (1e-3,) * 3, DT_FS, seed=1)
    traj = from_positions(walk, np.arange(120) * DT_FS, np.eye(3) * 10)
    msd, counts = masked_msd(traj.positions, np.ones((6, 120), dtype=bool))
    np.testing.assert_allclose(msd, species_msd(traj).msd, rtol=1e-8, atol=1e-9)
    assert counts[0] == 6 * 120 and counts[-1] == 6


def test_region_diffusion_separates_slow_gb_from_fast_bulk():
    """In-plane walkers in slabs at fixed z: D per slab is what each slab was given."""
    n_per, n_frames, length_z = 20, 400, 80.0
    D_gb, D_bulk = 2e-5, 2e-4  # Å^2/fs, in-plane (x, y)
    gb = random_walk(n_per, n_frames, (D_gb, D_gb, 0.0), DT_FS, seed=1)
    bulk = random_walk(n_per, n_frames, (D_bulk, D_bulk, 0.0), DT_FS, seed=2)
    gb[..., 2] = np.random.default_rng(3).uniform(-4, 4, n_per)  # within 5 Å of z = 0
    bulk[..., 2] = np.random.default_rng(4).uniform(36, 44, n_per)  # 36-44 Å away
    walk = np.concatenate([gb, bulk], axis=1)
    traj = from_positions(walk, np.arange(n_frames) * DT_FS, np.diag([30.0, 30.0, length_z]))
    labels = assign_slab_regions(traj, [0.0], axis=2, width_A=10.0)
    counts = region_counts(labels)
    assert counts.sum(axis=1).tolist() == [2 * n_per] * n_frames
    assert counts[0].tolist() == [n_per, 0, 0, n_per]
    results = {r.region: r for r in region_diffusion(traj, labels)}
    assert set(results) == {REGION_NAMES[0], REGION_NAMES[3]}
    for name, D_plane in (("GB", D_gb), ("Bulk", D_bulk)):
        # reported D = MSD / 6t of a 2-D walk = (2/3) D_plane
        expected = 2.0 / 3.0 * D_plane * 0.1
        assert abs(results[name].D_cm2_s - expected) < 3.5 * results[name].D_err_cm2_s
    assert results["GB"].D_cm2_s < 0.3 * results["Bulk"].D_cm2_s


def test_density_profile_against_distance_from_the_planes():
    """Atoms placed uniformly within 4 Å of two planes: density only in the first 4 bins."""
    rng = np.random.default_rng(5)
    n, n_frames, length_z, area = 400, 3, 60.0, 20.0 * 25.0
    z = rng.uniform(-4, 4, n) + np.where(rng.random(n) < 0.5, 0.0, 30.0)  # planes at 0, 0.5
    walk = np.zeros((n_frames, n, 3))
    walk[..., 0], walk[..., 1] = rng.uniform(0, 20, n), rng.uniform(0, 25, n)
    walk[..., 2] = z
    traj = from_positions(walk, np.arange(n_frames) * DT_FS, np.diag([20.0, 25.0, length_z]))
    distance, density = density_profile(traj, [0.0, 0.5], axis=2, bin_A=1.0)
    assert distance.tolist() == [k + 0.5 for k in range(15)]  # up to half the 30 Å spacing
    # every atom counted once: density x (area x 1 Å x 2 sides x 2 planes) sums to n
    assert density.sum() * area * 1.0 * 2 * 2 == pytest.approx(n)
    assert (density[4:] == 0).all() and (density[:4] > 0).all()


def test_site_jumps_back_jumps_and_residence_times():
    sites = np.array([[1.0, 1.0, 1.0], [4.0, 1.0, 1.0], [7.0, 1.0, 1.0]])
    # atom 0: 0 0 0 1 1 1 0 0 0 0 (jump, back jump); atom 1: 1 1 2 2 2 2 0 0 0 0
    sequences = np.array([[0, 0, 0, 1, 1, 1, 0, 0, 0, 0], [1, 1, 2, 2, 2, 2, 0, 0, 0, 0]])
    rng = np.random.default_rng(0)
    walk = sites[sequences].transpose(1, 0, 2) + rng.normal(scale=0.2, size=(10, 2, 3))
    traj = from_positions(walk, np.arange(10) * 5.0, np.diag([9.0, 9.0, 9.0]))
    assigned = assign_sites(traj, sites)
    np.testing.assert_array_equal(assigned, sequences)
    stats = site_statistics(assigned, traj.time_fs)
    assert stats.n_jumps == 4 and stats.jumps_per_atom == 2.0
    assert stats.back_jump_fraction == pytest.approx(0.5)  # 0->1->0 yes, 1->2->0 no
    assert sorted(stats.residence_times_fs) == [15.0, 20.0]
    # triclinic cell: the brute-force minimum image gives the same sites
    tri = from_positions(walk, np.arange(10) * 5.0, np.array([[9, 0, 0], [0.5, 9, 0], [0, 0, 9.0]]))
    np.testing.assert_array_equal(assign_sites(tri, sites), sequences)


def test_cli_regions_and_sites(monkeypatch, tmp_path):
    import json
    import sys

    from tests.fixtures.analysis import write_text_dump

    from ionflow.cli.errors import run_cli
    from ionflow.cli.main import app

    gb = random_walk(10, 200, (2e-5, 2e-5, 0.0), DT_FS, seed=1)
    bulk = random_walk(10, 200, (2e-4, 2e-4, 0.0), DT_FS, seed=2)
    gb[..., 2] = 40.0 + np.random.default_rng(3).uniform(-3, 3, 10)  # GB plane at z = 0.5
    bulk[..., 2] = np.random.default_rng(4).uniform(2, 6, 10)
    walk = np.concatenate([gb, bulk], axis=1)
    path = write_text_dump(
        tmp_path / "gb.dump",
        walk,
        np.ones(20, dtype=int),
        (30.0, 30.0, 80.0),
        columns="id type x y z",
    )
    out, plot = tmp_path / "regions.json", tmp_path / "regions.png"
    args = ["ionflow", "analyze", "regions", str(path), "--gb-planes", "0.5", "--axis", "z"]
    args += [
        "--type-map",
        "1=Li",
        "--timestep-fs",
        str(DT_FS),
        "--json",
        str(out),
        "--plot",
        str(plot),
    ]
    monkeypatch.setattr(sys, "argv", args)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(app)
    assert exit_info.value.code == 0
    data = json.loads(out.read_text())
    D = {r["region"]: r["D_cm2_s"] for r in data["regions"]}
    assert D["GB"] < 0.3 * D["Bulk"]
    assert data["counts"]["GB"][0] == 10 and data["counts"]["Bulk"][0] == 10
    assert plot.stat().st_size > 1000
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "ionflow",
            "analyze",
            "sites",
            str(path),
            "--type-map",
            "1=Li",
            "--timestep-fs",
            "20",
            "--json",
            str(tmp_path / "sites.json"),  # regions.json stays: no --force
        ],
    )
    with pytest.raises(SystemExit) as exit_info:
        run_cli(app)
    assert exit_info.value.code == 0
    sites = json.loads((tmp_path / "sites.json").read_text())
    assert sites["n_sites"] == 20 and sites["n_jumps"] > 0


def test_density_sites_find_every_visited_site_including_ones_empty_at_first():
    """Three sites, the third only reached after the first frame: all three are found."""
    sites = np.array([[1.0, 1.0, 1.0], [4.0, 1.0, 1.0], [7.0, 5.0, 5.0]])
    sequences = np.array([[0] * 30 + [2] * 30, [1] * 60])
    rng = np.random.default_rng(1)
    walk = sites[sequences].transpose(1, 0, 2) + rng.normal(scale=0.1, size=(60, 2, 3))
    traj = from_positions(walk, np.arange(60) * 5.0, np.diag([9.0, 9.0, 9.0]))
    found = density_sites(traj)
    assert len(found) == 3
    nearest = np.linalg.norm(found[:, None, :] - sites[None, :, :], axis=-1).min(axis=0)
    assert np.all(nearest < 0.3), nearest
    doc = SiteDocument.from_species_trajectory(traj, sites_from="density")
    assert (doc.sites_from, doc.n_sites, doc.n_jumps) == ("density", 3, 1)


def test_graph_order_parameter_by_hand_and_subgraphs():
    # atom 0: 0 -> 1 -> 0 -> 1 -> 2 -> 1: edges 0->1 twice, 1->0 once, 1->2 once, 2->1 once
    # atom 1 stays on 3 then goes to 4: a second, separate subgraph 3 -> 4
    assignments = np.array([[0, 1, 0, 1, 2, 1], [3, 3, 3, 3, 4, 4]])
    graph = jump_graph(assignments)
    assert graph[1][0]["weight"] == pytest.approx(0.5) and graph[0][1]["weight"] == 1.0
    # weights into a node: 0: 0.5, 1: 1 + 1 = 2, 2: 0.5, 3: 0, 4: 1; scaled by the largest
    # subgraph {0, 1, 2}: degrees 0.25, 1, 0.25; subgraph {3, 4}: 0, 0.5
    first = (2 / 3) * np.log(2 / 3) + 0.25 * (2 / 3) + (1 / 3) * np.log(1 / 3) + 1.0 * (1 / 3)
    second = 2 * (0.5 * np.log(0.5)) + 0.5 * 0.5
    assert graph_order_parameter(graph) == pytest.approx(first + second)
    connectivity = graph_connectivity(assignments)
    assert (connectivity.n_sites, connectivity.n_subgraphs) == (5, 2)
    assert connectivity.largest_subgraph_fraction == pytest.approx(3 / 5)


def test_more_connected_jump_network_has_lower_graph_order_parameter():
    """A well-connected random-hop network scores below sites hopping in isolated pairs."""
    rng = np.random.default_rng(2)
    n_sites, n_atoms, n_frames = 40, 10, 400
    hops = rng.integers(0, n_sites, size=(n_atoms, n_frames))  # any site to any site
    pairs = (2 * rng.integers(0, n_sites // 2, size=(n_atoms, 1))) + (
        np.arange(n_frames) % 2
    )  # each atom rattles between the two sites of its own pair
    connected = graph_connectivity(hops)
    isolated = graph_connectivity(pairs)
    assert connected.n_subgraphs == 1 and isolated.n_subgraphs > 1
    assert connected.graph_order_parameter < isolated.graph_order_parameter
