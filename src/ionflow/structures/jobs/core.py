"""Makers that build structures; each returns a :class:`StructureSetDocument`.

Every Maker is a :class:`StructureSetMaker`: ``make`` (the job) resolves the parent,
calls the Maker's ``build`` and wraps the ``(structure, how)`` pairs in the output
document, with the structures routed to the ``data`` store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Maker, job
from pymatgen.core import Structure

from ionflow.structures.argyrodite import characteristic_configurations, random_structure
from ionflow.structures.ordering import (
    electrostatic_ground_states,
    number_of_orderings,
    site_groups,
)
from ionflow.structures.parents import get_parent_structure
from ionflow.structures.schemas.structures import StructureSetDocument
from ionflow.structures.sqs import DEFAULT_CUTOFFS, DEFAULT_STEPS
from ionflow.structures.strain import (
    DEFAULT_VOLUME_FRACTIONS,
    strain_perturbations,
    volumetric_series,
)
from ionflow.structures.supercell import make_supercell
from ionflow.structures.validation import check_structure


def resolve_parent(parent: Structure | str) -> tuple[Structure, str]:
    """The parent structure and its name (shipped name, file path or formula)."""
    if isinstance(parent, Structure):
        return parent, parent.composition.reduced_formula
    return get_parent_structure(parent), str(parent)


@dataclass
class StructureSetMaker(Maker):
    """Base Maker: ``make(parent)`` runs ``build`` and returns a StructureSetDocument."""

    name: str = "structures"
    kind: str = "structures"

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """Return ``(structure, how)`` pairs made from ``structure``."""
        raise NotImplementedError

    def max_structures(self, parent: Structure | str) -> int | None:
        """How many structures ``make(parent)`` can return, found without building them.

        None when there is no limit (e.g. SQS: one per seed). Used to reject a workflow
        that asks for more configurations than its method gives before anything runs.
        """
        return None

    @job(data="structures", output_schema=StructureSetDocument)
    def make(self, parent: Structure | str) -> StructureSetDocument:
        """Build the structures from ``parent`` (a Structure, shipped name or file)."""
        structure, parent_name = resolve_parent(parent)
        return StructureSetDocument.from_pairs(self.kind, parent_name, self.build(structure))


@dataclass
class ArgyroditeConfigurationsMaker(StructureSetMaker):
    """The six characteristic X/S2- orderings of Li6PS5X (0-100 % X on 4c)."""

    name: str = "argyrodite configurations"
    kind: str = "configurations"

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """Six configurations of the 52-atom argyrodite cell."""
        return characteristic_configurations(structure)

    def max_structures(self, parent: Structure | str) -> int:
        """Six: 0, 25, 50 (two orderings), 75 and 100 % halide on 4c."""
        return 6


@dataclass
class ParentStructureMaker(StructureSetMaker):
    """The parent structure itself, as a one-structure set (no disorder to resolve)."""

    name: str = "parent structure"
    kind: str = "parent"

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """The parent, unchanged."""
        return [(structure, {"transformation": "none", "label": "parent"})]

    def max_structures(self, parent: Structure | str) -> int:
        """One: the parent."""
        return 1


@dataclass
class RandomStructureMaker(StructureSetMaker):
    """Argyrodite "random structure": configurations mixed by Boltzmann or user weights.

    Attributes:
        scaling: unit cells along a, b, c.
        temperature: temperature of the Boltzmann weights (K).
        relative_energies: label -> relative energy (eV/atom); default: paper's PBE.
        weights: label -> weight; overrides the Boltzmann weights.
        seed: random seed for the arrangement of the cells.
    """

    name: str = "argyrodite random structure"
    kind: str = "random"
    scaling: tuple[int, int, int] = (3, 3, 3)
    temperature: float = 300.0
    relative_energies: dict[str, float] | None = None
    weights: dict[str, float] | None = None
    seed: int = 0

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """One mixed supercell."""
        mixed, how = random_structure(
            characteristic_configurations(structure),
            scaling=self.scaling,
            weights=self.weights,
            relative_energies=self.relative_energies,
            temperature=self.temperature,
            seed=self.seed,
        )
        how["label"] = "random-" + "x".join(str(s) for s in self.scaling)
        return [(mixed, how)]


@dataclass
class ElectrostaticGroundStateMaker(StructureSetMaker):
    """The ``n_structures`` lowest-Ewald-energy orderings of a disordered parent.

    Attributes:
        n_structures: orderings to return.
        scaling: supercell made before ordering (e.g. (4, 4, 2) for the 154-atom LSTH).
        method: ``auto``, ``enumerate`` (pymatgen, exact) or ``anneal``.
        seed: annealing seed.
    """

    name: str = "electrostatic ground states"
    kind: str = "esgs"
    n_structures: int = 5
    scaling: tuple[int, int, int] | None = None
    method: str = "auto"
    seed: int = 0

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """Lowest orderings, sorted by Ewald energy."""
        if self.scaling is not None:
            structure = make_supercell(structure, self.scaling)
        pairs = electrostatic_ground_states(structure, self.n_structures, self.method, self.seed)
        for ordered, how in pairs:
            how["label"] = f"esgs-{how['rank']:02d}"
            how["space_group"] = ordered.get_space_group_info(symprec=0.1)[0]
        return pairs

    def max_structures(self, parent: Structure | str) -> int:
        """Number of site assignments of the (scaled) parent: an upper bound, counted."""
        structure, _ = resolve_parent(parent)
        if self.scaling is not None:
            structure = make_supercell(structure, self.scaling)
        groups = site_groups(check_structure(structure))
        return max(int(number_of_orderings(groups)), 1) if groups else 0


@dataclass
class SqsMaker(StructureSetMaker):
    """Special quasi-random structures (icet) of a disordered parent, with their errors.

    Each record's provenance holds ``correlation_error`` (``max_abs``, ``rms``: SQS
    minus random-alloy cluster vector, zerolet excluded). The defaults give the
    154-atom 4x4x2 cell of the LSTH paper and >= 100 atoms otherwise.

    Attributes:
        n_atoms: smallest number of atoms (vacancies not counted); None with no
            ``scaling`` means 100.
        scaling: supercell repeats along a, b, c; excludes ``n_atoms``.
        cutoffs: cluster diameters (Å) per order: pairs, triplets, ...
        n_steps: Monte Carlo trial swaps of the annealing per structure.
        n_structures: independent SQS (seeds ``seed``, ``seed + 1``, ...).
        seed: random seed.
    """

    name: str = "special quasi-random structures"
    kind: str = "sqs"
    n_atoms: int | None = None
    scaling: tuple[int, int, int] | None = None
    cutoffs: tuple[float, ...] = DEFAULT_CUTOFFS
    n_steps: int = DEFAULT_STEPS
    n_structures: int = 1
    seed: int = 0

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """``n_structures`` SQS of the disordered ``structure``."""
        from ionflow.structures.sqs import special_quasirandom_structures

        return special_quasirandom_structures(
            structure,
            scaling=self.scaling,
            n_atoms=self.n_atoms,
            cutoffs=self.cutoffs,
            n_steps=self.n_steps,
            seed=self.seed,
            n_structures=self.n_structures,
        )


@dataclass
class StrainMaker(StructureSetMaker):
    """Strained copies along each lattice direction and all together.

    Attributes:
        magnitudes: engineering strains (dimensionless).
        directions: ``a``, ``b``, ``c``, ``abc``.
    """

    name: str = "strain perturbations"
    kind: str = "strain"
    magnitudes: tuple[float, ...] = (-0.05, 0.05)
    directions: tuple[str, ...] = ("a", "b", "c", "abc")

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """One copy per direction and magnitude."""
        pairs = strain_perturbations(structure, self.magnitudes, self.directions)
        for _, how in pairs:
            how["transformation"] = "strain"
            how["label"] = f"strain-{how['direction']}{how['strain']:+.4f}"
        return pairs


@dataclass
class VolumetricStrainMaker(StructureSetMaker):
    """Isotropically scaled copies at fractions of the reference volume.

    Attributes:
        fractions: target volume / reference volume.
    """

    name: str = "volumetric strain"
    kind: str = "volumes"
    fractions: tuple[float, ...] = field(default_factory=lambda: DEFAULT_VOLUME_FRACTIONS)

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """One copy per volume fraction."""
        pairs = volumetric_series(structure, self.fractions)
        for _, how in pairs:
            how["transformation"] = "volumetric_strain"
            how["label"] = f"volume-{round(100 * how['volume_fraction']):03d}"
        return pairs


@dataclass
class SupercellMaker(StructureSetMaker):
    """A diagonal supercell (fixed scaling, or at least ``min_atoms`` / ``min_length`` Å).

    Attributes:
        scaling: repeats along a, b, c.
        min_atoms: smallest number of atoms.
        min_length: smallest perpendicular width (Å).
    """

    name: str = "supercell"
    kind: str = "supercell"
    scaling: tuple[int, int, int] | None = None
    min_atoms: int | None = None
    min_length: float | None = None

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """The supercell."""
        supercell = make_supercell(structure, self.scaling, self.min_atoms, self.min_length)
        factors = [
            round(x / y) for x, y in zip(supercell.lattice.abc, structure.lattice.abc, strict=True)
        ]
        how = {
            "transformation": "supercell",
            "scaling": factors,
            "label": "supercell-" + "x".join(str(f) for f in factors),
        }
        return [(supercell, how)]


@dataclass
class GrainBoundaryMaker(StructureSetMaker):
    """Σ5[100](021) tilt GB with per-atom ``gb_region`` labels (GB/Near_GB/Far_GB/Bulk).

    Attributes:
        sigma: Σ value.
        rotation_axis: tilt axis.
        plane: GB plane.
        expand_times: grain thickness in repeats (3 gives all four 10 Å regions).
        region_width: region slab thickness (Å).
        ab_shift: in-plane shift of the upper grain (fractions of a and b).
        cubic: build from the cubic lattice of the parent's volume (relaxed cells).
        ab_grid: in-plane grid of the upper grain's rigid-body search ((1, 1) and
            ``openings_A`` (0,): ``ab_shift`` as given).
        openings_A: openings along the normal tried, smallest first (Å).
        min_contact_ratio: closest contact / bulk contact of the same element pair that
            ends the search.
    """

    name: str = "grain boundary"
    kind: str = "gb"
    sigma: int = 5
    rotation_axis: tuple[int, int, int] = (1, 0, 0)
    plane: tuple[int, int, int] = (0, 2, 1)
    expand_times: int = 1
    region_width: float = 10.0
    ab_shift: tuple[float, float] = (0.0, 0.0)
    cubic: bool = False
    ab_grid: tuple[int, int] = (1, 1)
    openings_A: tuple[float, ...] = (0.0,)
    min_contact_ratio: float = 0.8

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """One GB model."""
        from ionflow.structures.grain_boundary import grain_boundary

        return [
            grain_boundary(
                structure,
                self.sigma,
                self.rotation_axis,
                self.plane,
                self.expand_times,
                self.region_width,
                self.ab_shift,
                self.cubic,
                self.ab_grid,
                self.openings_A,
                self.min_contact_ratio,
            )
        ]


@dataclass
class LithiumContentMaker(StructureSetMaker):
    """Li_x La3 Zr2 O12 with x from 6.25 to 7 by Li vacancies (low-Ewald placement).

    Attributes:
        x_values: Li per formula unit.
        seed: annealing seed.
    """

    name: str = "garnet lithium content"
    kind: str = "lithium"
    x_values: tuple[float, ...] = (6.25, 6.5, 6.75, 7.0)
    seed: int = 0

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """One ordered cell per x."""
        from ionflow.structures.garnet import lithium_deficient_garnets

        return lithium_deficient_garnets(structure, self.x_values, self.seed)

    def max_structures(self, parent: Structure | str) -> int:
        """One per Li content."""
        return len(self.x_values)


@dataclass
class AmorphousStartMaker(StructureSetMaker):
    """Cells to melt (the structure, or one per target density in g/cm^3).

    Attributes:
        densities: target densities (g/cm^3); None keeps the structure's density.
    """

    name: str = "amorphous start"
    kind: str = "melt_start"
    densities: tuple[float, ...] | None = None

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """Starting cells."""
        from ionflow.structures.amorphous import starting_cells

        return starting_cells(structure, self.densities)


@dataclass
class AmorphousExpansionMaker(StructureSetMaker):
    """The quenched cell expanded to 105/110/115 % volume, fractional positions kept.

    Attributes:
        fractions: volume fractions.
    """

    name: str = "amorphous expansion"
    kind: str = "amorphous"
    fractions: tuple[float, ...] = (1.05, 1.10, 1.15)

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """Expanded copies."""
        from ionflow.structures.amorphous import expanded_cells

        return expanded_cells(structure, self.fractions)


@dataclass
class SurfaceSlabMaker(StructureSetMaker):
    """A stoichiometric surface slab with vacuum (the GB study's (021) surfaces).

    Attributes:
        miller_index: surface plane.
        min_slab_A: slab thickness, Å (at least).
        vacuum_A: vacuum thickness, Å (at least).
    """

    name: str = "surface slab"
    kind: str = "surface"
    miller_index: tuple[int, int, int] = (0, 2, 1)
    min_slab_A: float = 8.0
    vacuum_A: float = 12.0

    def build(self, structure: Structure) -> list[tuple[Structure, dict]]:
        """One slab."""
        from ionflow.structures.surface import surface_slab

        return [surface_slab(structure, self.miller_index, self.min_slab_A, self.vacuum_A)]
