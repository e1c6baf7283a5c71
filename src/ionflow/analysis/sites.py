"""Site analysis: residence times, jump counts and back-jump fraction.

Every atom is assigned in every frame to its nearest site under periodic boundary
conditions (the Voronoi cell of the site). By default the sites are the positions of
the species in the first frame. An atom stays on a site until it is assigned to a
different one; a back jump returns to the site it came from (i -> j -> i).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ionflow.analysis.displacements import SpeciesTrajectory


def assign_sites(trajectory: SpeciesTrajectory, sites_A: np.ndarray | None = None) -> np.ndarray:
    """Nearest site of every atom in every frame.

    Args:
        trajectory: unwrapped positions of the diffusing species.
        sites_A: (M, 3) Cartesian site positions in Å (default: first-frame positions).

    Returns:
        (n_atoms, T) site indices.
    """
    if sites_A is None:
        sites_A = trajectory.positions[:, :, 0].T
    sites_A = np.asarray(sites_A, dtype=float)
    out = np.empty((trajectory.n_atoms, trajectory.n_frames), dtype=np.int32)
    for t in range(trajectory.n_frames):
        cell, origin = trajectory.cells[t], trajectory.origins[t]
        inv = np.linalg.inv(cell)
        atoms_frac = ((trajectory.positions[:, :, t].T - origin) @ inv) % 1.0
        sites_frac = ((sites_A - origin) @ inv) % 1.0
        if np.allclose(cell, np.diag(np.diag(cell))):
            lengths = np.diag(cell)
            tree = cKDTree((sites_frac * lengths) % lengths, boxsize=lengths)
            _, out[:, t] = tree.query((atoms_frac * lengths) % lengths)
        else:  # triclinic: minimum image by brute force over the sites
            delta = atoms_frac[:, None, :] - sites_frac[None, :, :]
            delta -= np.round(delta)
            out[:, t] = np.argmin(np.linalg.norm(delta @ cell, axis=-1), axis=1)
    return out


def density_sites(
    trajectory: SpeciesTrajectory,
    bin_A: float = 0.2,
    smoothing_A: float = 0.3,
    min_separation_A: float = 1.2,
    min_peak_fraction: float = 0.01,
) -> np.ndarray:
    """Sites as the maxima of the species' density over all frames (first frame's cell).

    Positions are wrapped into the cell, binned on a grid of about ``bin_A`` Å, smoothed
    by a periodic Gaussian of ``smoothing_A`` Å; a site is a grid point that is the
    largest within ``min_separation_A`` Å and holds at least ``min_peak_fraction`` of the
    highest peak's density (so a site visited once in passing is not one).

    Returns:
        (M, 3) Cartesian site positions in Å.
    """
    cell, origin = trajectory.cells[0], trajectory.origins[0]
    lengths = np.linalg.norm(cell, axis=1)
    shape = tuple(max(round(float(length) / bin_A), 1) for length in lengths)
    points = trajectory.positions.transpose(2, 1, 0).reshape(-1, 3)  # every atom, frame
    frac = ((points - origin) @ np.linalg.inv(cell)) % 1.0
    index = np.minimum((frac * shape).astype(int), np.array(shape) - 1)
    density = np.zeros(shape)
    np.add.at(density, tuple(index.T), 1.0)
    spacing = lengths / np.array(shape)
    density = ndimage.gaussian_filter(density, smoothing_A / spacing, mode="wrap")
    window = tuple(2 * max(int(min_separation_A / (2 * d)), 1) + 1 for d in spacing)
    peaks = (density == ndimage.maximum_filter(density, size=window, mode="wrap")) & (
        density >= min_peak_fraction * density.max()
    )
    grid = np.argwhere(peaks)
    return origin + ((grid + 0.5) / shape) @ cell


@dataclass
class SiteStatistics:
    """Jump statistics from a site assignment.

    Attributes:
        n_jumps: total number of site changes.
        jumps_per_atom: mean number of jumps per atom.
        back_jump_fraction: fraction of jumps (after an atom's first) that return to the
            previous site.
        mean_residence_time_fs: mean time between two jumps of an atom (complete stays
            only), in fs; NaN when no atom jumped twice.
        residence_times_fs: all complete residence times in fs.
    """

    n_jumps: int
    jumps_per_atom: float
    back_jump_fraction: float
    mean_residence_time_fs: float
    residence_times_fs: list[float]


def site_statistics(assignments: np.ndarray, time_fs: np.ndarray) -> SiteStatistics:
    """Jumps, back jumps and residence times from an (n_atoms, T) site assignment."""
    n_jumps = back = later_jumps = 0
    residence: list[float] = []
    for row in assignments:
        change = np.flatnonzero(row[1:] != row[:-1]) + 1
        n_jumps += len(change)
        if len(change) == 0:
            continue
        visited = np.concatenate([[row[0]], row[change]])
        back += int(np.sum(visited[2:] == visited[:-2]))
        later_jumps += max(len(change) - 1, 0)
        residence.extend(np.diff(time_fs[change]).tolist())
    return SiteStatistics(
        n_jumps=int(n_jumps),
        jumps_per_atom=n_jumps / max(len(assignments), 1),
        back_jump_fraction=back / later_jumps if later_jumps else float("nan"),
        mean_residence_time_fs=float(np.mean(residence)) if residence else float("nan"),
        residence_times_fs=residence,
    )


def jump_graph(assignments: np.ndarray) -> nx.DiGraph:
    """Site-to-site jump graph from an (n_atoms, T) site assignment.

    Nodes are the sites ever occupied; an edge i -> j carries ``count`` (jumps seen from
    i to j) and ``weight``, the probability that a jump leaving i goes to j.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(int(site) for site in np.unique(assignments))
    for row in assignments:
        change = np.flatnonzero(row[1:] != row[:-1])
        for a, b in zip(row[change], row[change + 1], strict=True):
            if graph.has_edge(int(a), int(b)):
                graph[int(a)][int(b)]["count"] += 1
            else:
                graph.add_edge(int(a), int(b), count=1)
    for node in graph:
        leaving = sum(data["count"] for *_, data in graph.out_edges(node, data=True))
        for *_, data in graph.out_edges(node, data=True):
            data["weight"] = data["count"] / leaving
    return graph


@dataclass
class GraphConnectivity:
    """Connectivity of a jump graph.

    Attributes:
        graph_order_parameter: the study's GOP (lower: more connected).
        n_sites: sites in the graph (sites ever occupied).
        n_subgraphs: connected subgraphs (weakly connected components).
        largest_subgraph_fraction: share of the sites in the largest subgraph.
    """

    graph_order_parameter: float
    n_sites: int
    n_subgraphs: int
    largest_subgraph_fraction: float


def graph_order_parameter(graph: nx.DiGraph, decimals: int = 2) -> float:
    """GOP of a weighted jump graph (module docstring; degrees rounded to ``decimals``).

    The node degree is the sum of the weights of the edges into the node, divided by the
    largest such sum, so it lies in 0-1; distinct degrees are counted after rounding.
    """
    in_weight = dict(graph.in_degree(weight="weight"))
    top = max(in_weight.values(), default=0.0)
    gop = 0.0
    for component in nx.weakly_connected_components(graph):
        degrees = np.array([in_weight[node] / top if top > 0 else 0.0 for node in component])
        values, counts = np.unique(np.round(degrees, decimals), return_counts=True)
        p = counts / counts.sum()
        gop += float(np.sum(p * np.log(p) + values * p))
    return gop


def graph_connectivity(assignments: np.ndarray) -> GraphConnectivity:
    """GOP and subgraph counts of the jump graph of an (n_atoms, T) site assignment."""
    graph = jump_graph(assignments)
    components = list(nx.weakly_connected_components(graph))
    return GraphConnectivity(
        graph_order_parameter=graph_order_parameter(graph),
        n_sites=graph.number_of_nodes(),
        n_subgraphs=len(components),
        largest_subgraph_fraction=max(len(c) for c in components) / graph.number_of_nodes(),
    )
