"""Untrained MTP potentials of any level, generated from the MTP basis definition.

An MTP basis function is a scalar built from moment tensors
``M_{mu,nu} = sum_j f_mu(r_j) r_j^{(x)nu}`` of level ``lev(M) = 2 + 4 mu + nu``: either
a scalar moment ``M_{mu,0}`` or a full contraction of moment tensors (a connected
multigraph whose vertex degrees are the tensor ranks), or a product of those; its level
is the sum of its tensors' levels. A level-N potential holds every basis function of
level <= N built from at most four tensors (the rule of MLIP's ``untrained_mtps``: it
reproduces their 9, 29 and 52 scalar moments at levels 8, 12 and 14).

Contractions are written as MLIP's ``alpha_index_times`` (pairwise products of tensor
components, symmetric tensors stored by their powers ``(a, b, c)`` of x, y, z), in an
order that keeps every intermediate tensor symmetric.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from math import factorial

from ionflow.errors import IonflowInputError

MAX_TENSORS_PER_BASIS_FUNCTION = 4


def moment_level(mu: int, nu: int) -> int:
    """Return the level ``2 + 4 mu + nu`` of the moment tensor ``M_{mu,nu}``."""
    return 2 + 4 * mu + nu


@cache
def powers(rank: int) -> tuple[tuple[int, int, int], ...]:
    """Return the independent components of a symmetric rank-``rank`` tensor in 3D.

    Ordered as MLIP does: powers ``(a, b, c)`` of x, y, z, descending lexicographically.
    """
    return tuple((a, b, rank - a - b) for a in range(rank, -1, -1) for b in range(rank - a, -1, -1))


def _power_of(indices: tuple[int, ...]) -> tuple[int, int, int]:
    return tuple(indices.count(axis) for axis in range(3))


def multinomial(power: tuple[int, ...]) -> int:
    """Return how many index tuples share the powers ``power``."""
    out = factorial(sum(power))
    for p in power:
        out //= factorial(p)
    return out


Vertex = tuple[int, int]  # (mu, nu)
Graph = tuple[tuple[Vertex, ...], tuple[tuple[int, ...], ...]]  # vertices, edge counts


def _canonical(vertices: tuple[Vertex, ...], edges: tuple[tuple[int, ...], ...]) -> Graph:
    n = len(vertices)
    best = None
    for perm in itertools.permutations(range(n)):
        key = (
            tuple(vertices[p] for p in perm),
            tuple(tuple(edges[perm[i]][perm[j]] for j in range(n)) for i in range(n)),
        )
        if best is None or key < best:
            best = key
    return best


def _connected(edges: tuple[tuple[int, ...], ...]) -> bool:
    n = len(edges)
    seen, todo = {0}, [0]
    while todo:
        i = todo.pop()
        for j in range(n):
            if edges[i][j] and j not in seen:
                seen.add(j)
                todo.append(j)
    return len(seen) == n


def _edge_matrices(degrees: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], ...]]:
    n = len(degrees)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]

    def fill(k: int, left: list[int], counts: dict) -> Iterator[dict]:
        if k == len(pairs):
            if not any(left):
                yield dict(counts)
            return
        i, j = pairs[k]
        for m in range(min(left[i], left[j]) + 1):
            left[i] -= m
            left[j] -= m
            counts[(i, j)] = m
            yield from fill(k + 1, left, counts)
            left[i] += m
            left[j] += m

    for counts in fill(0, list(degrees), {}):
        yield tuple(
            tuple(counts.get((min(i, j), max(i, j)), 0) if i != j else 0 for j in range(n))
            for i in range(n)
        )


def contraction_graphs(level: int) -> list[Graph]:
    """Return every connected full contraction of moment tensors with ``nu >= 1``.

    Each graph is canonical (vertices ``(mu, nu)`` and edge multiplicities), of level
    at most ``level`` and at most :data:`MAX_TENSORS_PER_BASIS_FUNCTION` tensors.
    """
    tensors = [
        (mu, nu)
        for mu in range(level)
        for nu in range(1, level)
        if moment_level(mu, nu) + moment_level(0, 1) <= level
    ]
    found = set()
    for n in range(2, MAX_TENSORS_PER_BASIS_FUNCTION + 1):
        for combo in itertools.combinations_with_replacement(tensors, n):
            if sum(moment_level(*v) for v in combo) > level:
                continue
            for edges in _edge_matrices(tuple(nu for _, nu in combo)):
                if _connected(edges):
                    found.add(_canonical(combo, edges))
    return sorted(found, key=lambda g: (_graph_level(g), g))


def _graph_level(graph: Graph) -> int:
    return sum(moment_level(*v) for v in graph[0])


@dataclass
class _Builder:
    """Collects basic moments and pairwise contractions, numbering them as MLIP does."""

    basic: list[tuple[int, int, int, int]] = field(default_factory=list)
    times: list[tuple[int, int, int, int]] = field(default_factory=list)
    n_moments: int = 0
    # node key -> {power: moment index}
    nodes: dict = field(default_factory=dict)
    summed: set = field(default_factory=set)

    def add_basic(self, mu: int, nu: int) -> None:
        key = ("M", mu, nu)
        if key not in self.nodes:
            self.nodes[key] = {}
            for p in powers(nu):
                self.nodes[key][p] = len(self.basic)
                self.basic.append((mu, *p))

    def contract(self, key_a: tuple, rank_a: int, key_b: tuple, rank_b: int, k: int) -> tuple:
        """Contract ``k`` indices of node a with node b; free indices must be symmetric."""
        key = ("C", key_a, key_b, k)
        if key in self.nodes:
            return key
        free_a, free_b = rank_a - k, rank_b - k
        comp_a, comp_b = self.nodes[key_a], self.nodes[key_b]
        out: dict = {}
        entries = []
        if free_a == 0 or free_b == 0:
            if free_a:  # keep the fully contracted one first
                comp_a, comp_b, free_b = comp_b, comp_a, free_a
            for beta in powers(free_b):
                for alpha in powers(k):
                    target = tuple(x + y for x, y in zip(alpha, beta, strict=True))
                    mult = 1 if {key_a, key_b} & self.summed else multinomial(alpha)
                    entries.append((comp_a[alpha], comp_b[target], mult, beta))
        else:  # a == b, one free index each: (X X^T)_ij, symmetric
            unit = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
            for beta in powers(2):
                i = next(u for u in unit if all(b >= x for b, x in zip(beta, u, strict=True)))
                j = tuple(b - x for b, x in zip(beta, i, strict=True))
                for alpha in powers(k):
                    ai = tuple(x + y for x, y in zip(alpha, i, strict=True))
                    aj = tuple(x + y for x, y in zip(alpha, j, strict=True))
                    entries.append((comp_a[ai], comp_b[aj], multinomial(alpha), beta))
        for beta in dict.fromkeys(e[3] for e in entries):
            out[beta] = self.n_moments
            self.n_moments += 1
        self.times.extend((a, b, m, out[beta]) for a, b, m, beta in entries)
        self.nodes[key] = out
        return key

    def contract_summed(
        self, key_a: tuple, rank_a: int, key_b: tuple, rank_b: int, k: int
    ) -> tuple:
        """Contract ``k`` indices of a and b, free indices on both sides.

        Stored as ``U_beta = sum over index tuples t with powers beta of T_t`` (integer
        coefficients), so that a full contraction with a symmetric tensor ``C`` is
        ``sum_beta C_beta U_beta`` (multiplicity 1, see :meth:`contract`).
        """
        key = ("S", key_a, key_b, k)
        if key in self.nodes:
            return key
        free_a, free_b = rank_a - k, rank_b - k
        comp_a, comp_b = self.nodes[key_a], self.nodes[key_b]
        rank = free_a + free_b
        coeffs: dict = {}
        for t in itertools.product(range(3), repeat=rank):
            beta = _power_of(t)
            pa, pb = _power_of(t[:free_a]), _power_of(t[free_a:])
            for alpha in powers(k):
                ia = comp_a[tuple(x + y for x, y in zip(alpha, pa, strict=True))]
                ib = comp_b[tuple(x + y for x, y in zip(alpha, pb, strict=True))]
                coeffs[(beta, ia, ib)] = coeffs.get((beta, ia, ib), 0) + multinomial(alpha)
        out = {}
        for beta in powers(rank):
            out[beta] = self.n_moments
            self.n_moments += 1
        self.times.extend((ia, ib, m, out[beta]) for (beta, ia, ib), m in coeffs.items())
        self.nodes[key] = out
        self.summed.add(key)
        return key

    def product(self, key_a: tuple, key_b: tuple) -> tuple:
        """Multiply two scalars."""
        key = ("P", key_a, key_b)
        if key not in self.nodes:
            self.nodes[key] = {(0, 0, 0): self.n_moments}
            self.times.append(
                (self.nodes[key_a][(0, 0, 0)], self.nodes[key_b][(0, 0, 0)], 1, self.n_moments)
            )
            self.n_moments += 1
        return key


def _contraction_order(graph: Graph) -> tuple | None:
    """Return a binary contraction tree keeping intermediates symmetric (or None).

    A tree node is ``("leaf", vertex)`` or ``("node", left, right, k, summed)``: contract
    ``k`` indices of left and right. ``summed`` marks a pair of tensors whose free indices
    come from both sides; it is allowed only right below the root, contracted with a
    single (symmetric) tensor, where it is stored as sums over index orderings.
    """
    vertices, edges = graph
    n = len(vertices)

    def free(subset: frozenset) -> int:
        return sum(edges[i][j] for i in subset for j in range(n) if j not in subset)

    def between(s1: frozenset, s2: frozenset) -> int:
        return sum(edges[i][j] for i in s1 for j in s2)

    @cache
    def tree(subset: frozenset, summed_ok: bool) -> tuple | None:
        if len(subset) == 1:
            return ("leaf", next(iter(subset)))
        members = sorted(subset)
        root = len(subset) == n
        for r in range(1, len(members)):
            for part in itertools.combinations(members, r):
                s1 = frozenset(part)
                s2 = subset - s1
                k = between(s1, s2)
                if k == 0:
                    continue
                f1, f2 = free(s1) - k, free(s2) - k
                summed = False
                if f1 and f2:
                    same = len(s1) == len(s2) == 1 and vertices[part[0]] == vertices[min(s2)]
                    if same and f1 == f2 == 1:
                        pass  # (X X^T)_ij is symmetric
                    elif summed_ok and len(s1) == len(s2) == 1:
                        summed = True
                    else:
                        continue
                ok1 = root and len(s2) == 1
                ok2 = root and len(s1) == 1
                t1, t2 = tree(s1, ok1), tree(s2, ok2)
                if t1 is not None and t2 is not None:
                    return ("node", t1, t2, k, summed)
        return None

    return tree(frozenset(range(n)), False)


def _build_graph(builder: _Builder, graph: Graph) -> tuple:
    vertices, edges = graph
    order = _contraction_order(graph)
    if order is None:
        raise RuntimeError(f"no symmetric contraction order for {graph}")
    n = len(vertices)

    def members(t: tuple) -> frozenset:
        return frozenset([t[1]]) if t[0] == "leaf" else members(t[1]) | members(t[2])

    def rank(t: tuple) -> int:
        s = members(t)
        if len(s) == 1:
            return vertices[t[1]][1]
        return sum(edges[i][j] for i in s for j in range(n) if j not in s)

    def build(t: tuple) -> tuple:
        if t[0] == "leaf":
            mu, nu = vertices[t[1]]
            builder.add_basic(mu, nu)
            return ("M", mu, nu)
        ka, kb = build(t[1]), build(t[2])
        ra, rb = rank(t[1]), rank(t[2])
        if t[4]:
            return builder.contract_summed(ka, ra, kb, rb, t[3])
        # canonical operand order so identical sub-contractions are shared
        if (ra, repr(ka)) > (rb, repr(kb)):
            ka, kb, ra, rb = kb, ka, rb, ra
        return builder.contract(ka, ra, kb, rb, t[3])

    return build(order)


@dataclass(frozen=True)
class MtpBasis:
    """The ``alpha_*`` tables of an untrained MTP (MLIP-2 ``.mtp`` keys)."""

    level: int
    radial_funcs_count: int
    alpha_index_basic: list[tuple[int, int, int, int]]
    alpha_index_times: list[tuple[int, int, int, int]]
    alpha_moments_count: int
    alpha_moment_mapping: list[int]


def generate_basis(level: int) -> MtpBasis:
    """Generate the MTP basis of level ``level`` (even, 2 to 16).

    Raises:
        IonflowInputError: if the level is not an even number from 2 to 28.
    """
    if level % 2 or not 2 <= level <= 16:
        raise IonflowInputError(f"MTP level must be an even number from 2 to 16, got {level}")
    graphs = contraction_graphs(level)
    scalars = [("M", mu, 0) for mu in range(level) if moment_level(mu, 0) <= level]
    factor_items = [(moment_level(mu, 0), 1, ("scalar", mu)) for (_, mu, _) in scalars]
    factor_items += [(_graph_level(g), len(g[0]), ("graph", g)) for g in graphs]
    factor_items.sort(key=lambda f: (f[0], repr(f[2])))

    # basic moments first (MLIP numbers them 0..basic_count-1, by mu then nu)
    needed = {("scalar_basic", mu) for mu in range(level) if moment_level(mu, 0) <= level}
    basic_tensors = {(mu, 0) for (_, mu) in needed}
    for g in graphs:
        basic_tensors.update(g[0])
    builder = _Builder()
    for mu, nu in sorted(basic_tensors):
        builder.add_basic(mu, nu)
    builder.n_moments = len(builder.basic)

    products: list[tuple[int, tuple]] = []  # (level, key)
    for n in range(1, MAX_TENSORS_PER_BASIS_FUNCTION + 1):
        for combo in itertools.combinations_with_replacement(range(len(factor_items)), n):
            items = [factor_items[i] for i in combo]
            if sum(i[0] for i in items) > level or sum(i[1] for i in items) > (
                MAX_TENSORS_PER_BASIS_FUNCTION
            ):
                continue
            keys = []
            for _, _, (kind, what) in items:
                keys.append(("M", what, 0) if kind == "scalar" else _build_graph(builder, what))
            key = keys[-1]
            for other in reversed(keys[:-1]):
                key = builder.product(other, key)
            products.append((sum(i[0] for i in items), key))
    mapping = [builder.nodes[key][(0, 0, 0)] for _, key in products]
    mus = {b[0] for b in builder.basic}
    return MtpBasis(
        level=level,
        radial_funcs_count=max(mus) + 1,
        alpha_index_basic=builder.basic,
        alpha_index_times=builder.times,
        alpha_moments_count=builder.n_moments,
        alpha_moment_mapping=mapping,
    )


def _braces(rows: list) -> str:
    return "{" + ", ".join("{" + ", ".join(str(x) for x in r) + "}" for r in rows) + "}"


def untrained_mtp_text(
    level: int,
    species_count: int,
    min_dist: float,
    max_dist: float,
    radial_basis_size: int = 8,
) -> str:
    """Return an untrained level-``level`` potential in the MLIP-2 ``.mtp`` layout.

    Args:
        level: MTP level (even, 2-16, the range of the paper).
        species_count: number of chemical species.
        min_dist: inner radius of the radial basis, Å.
        max_dist: cutoff radius R_cut, Å.
        radial_basis_size: number of Chebyshev radial basis functions.

    Raises:
        IonflowInputError: if an argument is out of range.
    """
    if species_count < 1 or radial_basis_size < 1 or not 0 <= min_dist < max_dist:
        raise IonflowInputError(
            "need species_count >= 1, radial_basis_size >= 1 and 0 <= min_dist < max_dist "
            f"(got {species_count}, {radial_basis_size}, {min_dist}, {max_dist})"
        )
    basis = generate_basis(level)
    return (
        "MTP\n"
        "version = 1.1.0\n"
        "potential_name = MTP1m\n"
        f"species_count = {species_count}\n"
        "potential_tag = \n"
        "radial_basis_type = RBChebyshev\n"
        f"\tmin_dist = {min_dist:.6f}\n"
        f"\tmax_dist = {max_dist:.6f}\n"
        f"\tradial_basis_size = {radial_basis_size}\n"
        f"\tradial_funcs_count = {basis.radial_funcs_count}\n"
        f"alpha_moments_count = {basis.alpha_moments_count}\n"
        f"alpha_index_basic_count = {len(basis.alpha_index_basic)}\n"
        f"alpha_index_basic = {_braces(basis.alpha_index_basic)}\n"
        f"alpha_index_times_count = {len(basis.alpha_index_times)}\n"
        f"alpha_index_times = {_braces(basis.alpha_index_times)}\n"
        f"alpha_scalar_moments = {len(basis.alpha_moment_mapping)}\n"
        "alpha_moment_mapping = {" + ", ".join(map(str, basis.alpha_moment_mapping)) + "}\n"
    )
