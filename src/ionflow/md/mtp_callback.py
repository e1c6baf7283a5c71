"""Energy, forces and virial of a motep MTP for LAMMPS ``fix external``.

The local MD engine runs the production deck with ``pair_style zero <cutoff> full``, so
LAMMPS builds and keeps a full neighbour list (with its own skin and rebuild rules), and
a ``fix external pf/callback`` whose callback is :class:`MtpFixExternal`. The callback
reuses that neighbour list instead of motep's own (ASE ``PrimitiveNeighborList``, which
is rebuilt whenever the cell changes, i.e. on every NPT step): the padded neighbour
index array is re-read only when LAMMPS rebuilds its list (build counter moved, or a new
``run`` started), and on every step only the pairs within the MTP cutoff and their
vectors are recomputed from the local + ghost coordinates (compiled with numba). The MTP itself is
evaluated by motep's C engine (:class:`ionflow.md.run.MotepKernel`, the same kernel motep's
ASE calculator calls; this module only prepares its input). Serial only (one MPI rank):
ghost atoms are mapped back to their owners by atom id, so forces on ghosts are folded
onto the owning local atom.

With a core-repulsion wall (:mod:`ionflow.md.sets.wall`) the callback also holds the MTP
at each element pair's inner cutoff r_in (ACE/pacemaker's inner cutoff): a pair vector
shorter than r_in enters the MTP at length ``r_in - w tanh((r_in - r) / w)`` along its own
direction (``w`` = :data:`HOLD_WIDTH_A`), so below r_in the MTP's radial basis is never
extrapolated (its polynomial diverges below ``min_dist``, attracting to -1e4 eV) and the
ZBL wall takes over. The mapping has slope 1 at r_in (forces continuous) and is the
identity at every distance the MTP was trained on; forces and virial are those of the
held energy (chain rule through the mapping).

Units (LAMMPS ``metal``): energy eV, forces eV/Å, virial eV (sum r_ij f_ij, positive
under compression, LAMMPS order xx, yy, zz, xy, xz, yz).
"""

from __future__ import annotations

import ctypes
import time
from typing import Any, Protocol

import numba
import numpy as np

FIX_ID = "mtp"
HOLD_WIDTH_A = 0.1  # Å: how far below r_in the held length can go (r_in - w at r -> 0)
_INT_POINTER = ctypes.POINTER(ctypes.c_int)


@numba.njit(inline="always", cache=True)
def _pair_vector(
    positions: np.ndarray, i: int, j: int, cutoff2: float
) -> tuple[bool, float, float, float]:
    """Whether atoms i, j are closer than sqrt(``cutoff2``) (Å), and r_j - r_i (Å)."""
    dx = positions[j, 0] - positions[i, 0]
    dy = positions[j, 1] - positions[i, 1]
    dz = positions[j, 2] - positions[i, 2]
    return dx * dx + dy * dy + dz * dz < cutoff2, dx, dy, dz


@numba.njit(cache=True)
def _pairs_within_cutoff(
    positions: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    pair_owner: np.ndarray,
    pair_jtype: np.ndarray,
    nlocal: int,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Padded (nlocal, width) neighbour arrays of the pairs closer than ``cutoff`` (Å).

    Two passes over LAMMPS's pairs (count, then fill) in compiled code: the per-step
    cost is a small fraction of the MTP kernel's, where numpy fancy indexing was ~30 %.
    Padding: index -1, type 0 and a vector of length > cutoff (no contribution).

    Returns:
        Neighbour (owning local atom) indices, neighbour MTP types, vectors r_j - r_i (Å).
    """
    cutoff2 = cutoff * cutoff
    counts = np.zeros(nlocal, dtype=np.int64)
    for p in range(pair_i.size):
        inside, _, _, _ = _pair_vector(positions, pair_i[p], pair_j[p], cutoff2)
        if inside:
            counts[pair_i[p]] += 1
    width = max(counts.max() if nlocal else 0, 1)
    js = np.full((nlocal, width), -1, dtype=np.int32)
    jtypes = np.zeros((nlocal, width), dtype=np.int32)
    r_ij = np.full((nlocal, width, 3), 2.0 * cutoff)
    counts[:] = 0
    for p in range(pair_i.size):
        i = pair_i[p]
        inside, dx, dy, dz = _pair_vector(positions, i, pair_j[p], cutoff2)
        if inside:
            c = counts[i]
            js[i, c] = pair_owner[p]
            jtypes[i, c] = pair_jtype[p]
            r_ij[i, c, 0] = dx
            r_ij[i, c, 1] = dy
            r_ij[i, c, 2] = dz
            counts[i] = c + 1
    return js, jtypes, r_ij


@numba.njit(cache=True)
def _virial(r_ij: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """Symmetrised virial W_ab = -sum_ij r_ij,a dE/dr_ij,b (eV); padding has no gradient."""
    w = np.zeros((3, 3))
    for i in range(r_ij.shape[0]):
        for j in range(r_ij.shape[1]):
            for a in range(3):
                for b in range(3):
                    w[a, b] -= r_ij[i, j, a] * gradient[i, j, b]
    return 0.5 * (w + w.T)


@numba.njit(cache=True)
def _hold_short_pairs(
    r_ij: np.ndarray,
    itypes: np.ndarray,
    jtypes: np.ndarray,
    inner_A: np.ndarray,
    width_A: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Pair vectors with the ones shorter than their pair's r_in held near r_in.

    A vector of length r < c = ``inner_A[itype, jtype]`` becomes length
    ``c - width_A * tanh((c - r) / width_A)`` along the same direction.

    Returns:
        Held vectors (Å), their length ratio held/true, d(held length)/d(true length)
        (1 for untouched pairs) and how many pair vectors were held.
    """
    held = r_ij.copy()
    scale = np.ones(r_ij.shape[:2])
    slope = np.ones(r_ij.shape[:2])
    n_held = 0
    for i in range(r_ij.shape[0]):
        for j in range(r_ij.shape[1]):
            c = inner_A[itypes[i], jtypes[i, j]]
            r = np.sqrt(r_ij[i, j, 0] ** 2 + r_ij[i, j, 1] ** 2 + r_ij[i, j, 2] ** 2)
            if r < c:
                t = np.tanh((c - r) / width_A)
                scale[i, j] = (c - width_A * t) / r
                slope[i, j] = 1.0 - t * t
                for a in range(3):
                    held[i, j, a] = r_ij[i, j, a] * scale[i, j]
                n_held += 1
    return held, scale, slope, n_held


@numba.njit(cache=True)
def _gradient_of_true_vectors(
    r_ij: np.ndarray, gradient: np.ndarray, scale: np.ndarray, slope: np.ndarray
) -> np.ndarray:
    """dE/dr_ij (eV/Å) of the true vectors from dE/d(held vector) (chain rule).

    The held vector is h(r) u with u = r_ij / r, so its Jacobian is
    h'(r) u u^T + (h / r) (1 - u u^T): the radial part of the gradient scales by h'(r),
    the tangential part by h / r.
    """
    out = gradient.copy()
    for i in range(r_ij.shape[0]):
        for j in range(r_ij.shape[1]):
            if scale[i, j] == 1.0 and slope[i, j] == 1.0:
                continue
            r = np.sqrt(r_ij[i, j, 0] ** 2 + r_ij[i, j, 1] ** 2 + r_ij[i, j, 2] ** 2)
            radial = 0.0
            for a in range(3):
                radial += r_ij[i, j, a] / r * gradient[i, j, a]
            for a in range(3):
                u = r_ij[i, j, a] / r
                tangential = gradient[i, j, a] - radial * u
                out[i, j, a] = slope[i, j] * radial * u + scale[i, j] * tangential
    return out


def _compile_helpers() -> None:
    """Compile (or load from numba's cache) the helpers on a two-atom dummy system."""
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    pairs = np.array([0, 1], dtype=np.int64)
    owners = np.array([1, 0], dtype=np.int32)
    _, _, r_ij = _pairs_within_cutoff(positions, pairs, pairs[::-1].copy(), owners, owners, 2, 5.0)
    _virial(r_ij, np.zeros_like(r_ij))
    itypes = np.zeros(2, dtype=np.int32)
    jtypes = np.zeros((2, 1), dtype=np.int32)
    held, scale, slope, _ = _hold_short_pairs(r_ij, itypes, jtypes, np.ones((1, 1)), 0.1)
    _gradient_of_true_vectors(r_ij, held, scale, slope)


class MtpKernel(Protocol):
    """What the callback needs from an MTP engine (:class:`ionflow.md.run.MotepKernel`)."""

    cutoff: float  # Å

    def initialize(self, n_atoms: int) -> None:
        """Size the engine's work arrays for ``n_atoms`` local atoms."""

    def evaluate(
        self, js: np.ndarray, r_ij: np.ndarray, itypes: np.ndarray, jtypes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-atom energies (eV), gradient dE/dr_ij (eV/Å), forces (eV/Å)."""

    def forces(self, gradient: np.ndarray, js: np.ndarray) -> np.ndarray:
        """Forces (eV/Å) on the local atoms from a gradient dE/dr_ij (eV/Å)."""


def evaluate_held(
    kernel: MtpKernel,
    js: np.ndarray,
    r_ij: np.ndarray,
    itypes: np.ndarray,
    jtypes: np.ndarray,
    inner_A: np.ndarray | None,
    width_A: float = HOLD_WIDTH_A,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The MTP with every pair vector shorter than its r_in held near r_in.

    Args:
        kernel: the MTP engine.
        js: (N, width) padded neighbour indices (-1: padding).
        r_ij: (N, width, 3) neighbour vectors r_j - r_i (Å).
        itypes: (N,) MTP type of each atom.
        jtypes: (N, width) MTP type of each neighbour.
        inner_A: (n_types, n_types) r_in (Å) per MTP type pair; None: nothing held.
        width_A: how far below r_in a held length can go (Å).

    Returns:
        Per-atom energies (eV), gradient dE/dr_ij of the true vectors (eV/Å), forces
        (eV/Å) and how many pair vectors were held (each pair counts from both atoms).
    """
    if inner_A is None:
        return (*kernel.evaluate(js, r_ij, itypes, jtypes), 0)
    held, scale, slope, n_held = _hold_short_pairs(r_ij, itypes, jtypes, inner_A, width_A)
    energies, gradient, forces = kernel.evaluate(js, held, itypes, jtypes)
    if n_held == 0:
        return energies, gradient, forces, 0
    gradient = _gradient_of_true_vectors(r_ij, gradient, scale, slope)
    return energies, gradient, kernel.forces(gradient, js), n_held


class MtpFixExternal:
    """Callable for ``lammps.set_fix_external_callback`` evaluating an MTP.

    Args:
        lmp: the ``lammps.lammps`` instance running the deck.
        kernel: the MTP engine (:class:`ionflow.md.run.MotepKernel`); LAMMPS atom type
            ``k`` is MTP species ``k - 1``.
        fix_id: id of the ``fix external`` in the deck.
        inner_cutoffs_A: (n_types, n_types) r_in (Å) per MTP type pair below which the
            MTP is held (:func:`evaluate_held`); None: the plain MTP.
    """

    def __init__(
        self,
        lmp: Any,
        kernel: MtpKernel,
        fix_id: str = FIX_ID,
        inner_cutoffs_A: np.ndarray | None = None,
    ) -> None:
        self.lmp = lmp
        self.inner_cutoffs_A = inner_cutoffs_A
        self.n_held_calls = 0  # force calls in which at least one pair was held
        self.fix_id = fix_id
        self.kernel = kernel
        self.cutoff = float(kernel.cutoff)  # Å
        self._nbuild = -1.0
        self._nlocal = -1
        self._last_step = -1
        # LAMMPS pairs (full list, within cutoff + skin), flat: i local, j local or ghost
        self._pair_i: np.ndarray = np.empty(0, dtype=np.int64)
        self._pair_j: np.ndarray = np.empty(0, dtype=np.int64)
        self._pair_owner: np.ndarray = np.empty(0, dtype=np.int32)  # j -> owning local atom
        self._pair_jtype: np.ndarray = np.empty(0, dtype=np.int32)  # MTP type of j
        self._itypes: np.ndarray = np.empty(0, dtype=np.int32)  # MTP type of local atoms
        self.n_calls = 0
        self.n_list_updates = 0
        _compile_helpers()  # JIT now, not inside a run that a walltime timer is watching
        self.kernel_seconds = 0.0  # wall time in motep's C kernel (calc_run + forces)
        self.callback_seconds = 0.0  # wall time in the whole callback
        self.last_energy = 0.0  # eV

    def _read_neighbour_list(self, nlocal: int, nall: int) -> None:
        """Copy LAMMPS's full neighbour list into flat pair arrays (after each rebuild).

        Reads the list through the C library interface, one call per atom, and copies
        neighbour indices in contiguous runs (LAMMPS stores them in pages), which is ~5x
        faster than the numpy wrapper's per-atom arrays.
        """
        lmp = self.lmp
        list_index = lmp.find_pair_neighlist("zero")
        n_elements = lmp.get_neighlist_size(list_index)
        element_neighbors = lmp.lib.lammps_neighlist_element_neighbors
        c_iatom, c_numneigh, c_neighbors = ctypes.c_int(), ctypes.c_int(), _INT_POINTER()
        refs = (ctypes.byref(c_iatom), ctypes.byref(c_numneigh), ctypes.byref(c_neighbors))
        atoms, counts, addresses = [], [], []
        for element in range(n_elements):
            element_neighbors(lmp.lmp, list_index, element, *refs)
            atoms.append(c_iatom.value)
            counts.append(c_numneigh.value)
            addresses.append(ctypes.cast(c_neighbors, ctypes.c_void_p).value or 0)
        atoms = np.asarray(atoms, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        addresses = np.asarray(addresses, dtype=np.uint64)
        # runs of atoms whose neighbours follow each other in one page
        expected = addresses[:-1] + (4 * counts[:-1]).astype(np.uint64)
        starts = np.concatenate(([0], np.flatnonzero(addresses[1:] != expected) + 1))
        ends = np.append(starts[1:], n_elements)
        chunks = []
        for first, last in zip(starts, ends, strict=True):
            total = int(counts[first:last].sum())
            if total:
                pointer = ctypes.cast(int(addresses[first]), _INT_POINTER)
                chunks.append(np.ctypeslib.as_array(pointer, shape=(total,)).astype(np.int64))
        self._pair_i = np.repeat(atoms, counts)
        self._pair_j = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
        # ghosts -> owning local atom (serial run: every ghost's id is owned locally)
        ids = self.lmp.numpy.extract_atom("id", nelem=nall)
        owner_of_id = np.empty(int(ids[:nlocal].max()) + 1, dtype=np.int32)
        owner_of_id[ids[:nlocal]] = np.arange(nlocal, dtype=np.int32)
        self._pair_owner = owner_of_id[ids[:nall]][self._pair_j]
        # atom order and types change only when LAMMPS re-neighbours
        types = self.lmp.numpy.extract_atom("type", nelem=nlocal)
        self._itypes = (types - 1).astype(np.int32)
        self._pair_jtype = self._itypes[self._pair_owner]
        self.kernel.initialize(nlocal)
        self._nlocal = nlocal
        self.n_list_updates += 1

    def neighbour_arrays(self, positions: np.ndarray, nlocal: int) -> tuple[np.ndarray, np.ndarray]:
        """Padded neighbour indices and vectors (Å) of the pairs now within the cutoff.

        Pairs of LAMMPS's list beyond the MTP cutoff (inside the skin) are dropped, so the
        MTP kernel does the same work as with motep's own list.
        """
        return _pairs_within_cutoff(
            np.ascontiguousarray(positions),
            self._pair_i,
            self._pair_j,
            self._pair_owner,
            self._pair_jtype,
            nlocal,
            self.cutoff,
        )

    def __call__(
        self, caller: Any, ntimestep: int, nlocal: int, tag: np.ndarray, x: np.ndarray, f: Any
    ) -> None:
        """Set MTP forces (eV/Å) into ``f`` and the energy/virial of the fix."""
        started = time.perf_counter()
        lmp = self.lmp
        if nlocal == 0:  # every atom lost: LAMMPS stops on its own lost-atoms check
            lmp.fix_external_set_energy_global(self.fix_id, 0.0)
            return
        nall = nlocal + int(lmp.extract_global("nghost"))
        # LAMMPS rebuilt its list: during a run the build counter moves; a new `run`
        # (same or earlier step, counter reset to 1) always starts with a rebuild
        nbuild = lmp.get_thermo("nbuild")
        if nbuild != self._nbuild or nlocal != self._nlocal or ntimestep <= self._last_step:
            self._read_neighbour_list(nlocal, nall)
            self._nbuild = nbuild
        self._last_step = ntimestep
        positions = lmp.numpy.extract_atom("x", nelem=nall, dim=3)
        js, jtypes, r_ij = self.neighbour_arrays(positions, nlocal)
        kernel_started = time.perf_counter()
        energies, gradient, forces, n_held = evaluate_held(
            self.kernel, js, r_ij, self._itypes, jtypes, self.inner_cutoffs_A
        )
        self.kernel_seconds += time.perf_counter() - kernel_started
        self.n_held_calls += n_held > 0
        f[:] = forces
        w = _virial(r_ij, gradient)
        energy = float(energies.sum())
        lmp.fix_external_set_energy_global(self.fix_id, energy)
        lmp.fix_external_set_virial_global(
            self.fix_id, [w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]]
        )
        self.last_energy = energy
        self.n_calls += 1
        self.callback_seconds += time.perf_counter() - started
