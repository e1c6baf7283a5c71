"""Single-point labelling of many structures at one level of theory."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import CURRENT_JOB, Flow, JobConfig, Maker, Response, job
from monty.shutil import gzip_dir
from pymatgen.core import Structure
from rich.progress import track

from ionflow.dft.label_cache import LabelCache, label_key
from ionflow.dft.labelled_set import merge_documents, provenance, summarise
from ionflow.dft.run import run_single_point
from ionflow.dft.schemas.labels import LabelledSetDocument, LabellingFailure, SinglePointLabel
from ionflow.dft.sets import check_oracle_level
from ionflow.dft.sets.oracle import OracleSettings
from ionflow.errors import IonflowError, IonflowInputError, Retry
from ionflow.io.job_log import job_log
from ionflow.io.labelled_set import LABELLED_SET_DATA_FIELDS

logger = logging.getLogger(__name__)


class LabellingFailedError(IonflowError, RuntimeError):
    """More structures failed to label than the failure policy tolerates.

    Not retried: the same structures with the same oracle settings fail the same way.
    """

    retry = Retry.NO


def check_failure_policy(document: LabelledSetDocument) -> None:
    """Raise if the failed fraction of ``document`` exceeds its ``max_failed_fraction``.

    Raises:
        LabellingFailedError: naming the count and the first reasons.
    """
    n_failed = len(document.failures)
    if document.n_requested and n_failed / document.n_requested > document.max_failed_fraction:
        reasons = "; ".join(f"#{f.index}: {f.reason}" for f in document.failures[:3])
        raise LabellingFailedError(
            f"{n_failed} of {document.n_requested} structures failed to label with "
            f"{document.oracle} at {document.level_of_theory} (tolerated: "
            f"{document.max_failed_fraction:.0%}); first: {reasons}"
        )


@dataclass
class LabelMaker(Maker):
    """Label structures with energy, forces and stress at one level of theory.

    ``LabelMaker().make(structures)`` is one job that labels the whole list (a chunk);
    use :func:`label_in_batches` to split thousands of snapshots into several jobs.
    Its output is a :class:`LabelledSetDocument`: ``.labelled_set`` is the
    :class:`~ionflow.io.labelled_set.LabelledSet` (its ``.cfg`` text is stored in the
    JobStore ``data`` store), ``.species`` the type order,
    ``.oracle`` / ``.level_of_theory`` for who labelled it and ``.failures`` for what
    could not be labelled. Labels already in the label cache (same oracle, level,
    settings, species, cell and positions) are reused, not recomputed.

    Attributes:
        name: job name.
        level_of_theory: ``PBE``, ``PBE-D3(BJ)`` or ``optB88-vdW``.
        oracle_settings: engine and numerical settings.
        species: ``.cfg`` type order; default: elements sorted by atomic number.
        max_failed_fraction: tolerated fraction of failed structures (SCF not
            converged, engine error); above it the job fails.
        enforce_failure_policy: False for chunks whose merge checks the policy.
        use_cache: look up and store labels in the label cache.
        position_tolerance: cache key rounding, Å.
        keep_files: keep each structure's engine folder ``label_NNNNN`` (gzipped after a
            successful parse, as atomate2 does; a failed structure's folder stays as the
            engine left it); False removes them after parsing. Empty folders (CHGNet
            writes nothing) are removed either way. The job also leaves ``label.log``
            (failures and, when the job fails, its traceback).
    """

    name: str = "label"
    level_of_theory: str = "PBE"
    oracle_settings: OracleSettings = field(default_factory=OracleSettings)
    species: list[str] | None = None
    max_failed_fraction: float = 0.05
    enforce_failure_policy: bool = True
    use_cache: bool = True
    position_tolerance: float = 1.0e-3
    keep_files: bool = True

    def __post_init__(self) -> None:
        """Reject an unknown level (or one the oracle lacks) when the Maker is built."""
        self.oracle_settings.check_level(self.level_of_theory)

    @job(data=LABELLED_SET_DATA_FIELDS, config=JobConfig(expose_store=True))
    def make(self, structures: list[Structure]) -> LabelledSetDocument:
        """Label ``structures`` (Å); provenance is read from ``structure.properties``.

        Returns:
            The summary and the labelled set (its ``.cfg`` text in the data store).

        Raises:
            IonflowInputError: a structure is disordered (partial occupancies).
            LabellingFailedError: too many structures failed (see failure policy).
        """
        check_oracle_level(self.oracle_settings.resolved_oracle(), self.level_of_theory)
        oracle = self.oracle_settings.resolved_oracle()
        disordered = [i for i, s in enumerate(structures) if not s.is_ordered]
        if disordered:
            raise IonflowInputError(
                f"structures {disordered[:5]} have partial occupancies; label ordered "
                "configurations (see `ionflow structures`)"
            )
        with job_log(Path.cwd() / "label.log"):
            return self._label(structures, oracle)

    def _label(self, structures: list[Structure], oracle: str) -> LabelledSetDocument:
        cache = LabelCache.from_job_store(CURRENT_JOB.store) if self.use_cache else None
        labelled: list[Structure] = []
        labels: list[SinglePointLabel] = []
        failures: list[LabellingFailure] = []
        n_from_cache = 0
        for index, structure in enumerate(
            track(structures, description=f"labelling with {oracle} ({self.level_of_theory})")
        ):
            key = label_key(
                structure, oracle, self.level_of_theory, self.oracle_settings,
                self.position_tolerance,
            )  # fmt: skip
            label = cache.get(key) if cache is not None else None
            if label is not None:
                n_from_cache += 1
            else:
                label, reason = self._compute(structure, index)
                if label is None:
                    failures.append(
                        LabellingFailure(
                            index=index, reason=reason, provenance=provenance(structure)
                        )
                    )
                    continue
                if cache is not None:
                    cache.put(key, label)
            labelled.append(structure)
            labels.append(label)
        document = summarise(
            labelled,
            labels,
            oracle=oracle,
            level_of_theory=self.level_of_theory,
            species=self.species,
            failures=failures,
            n_requested=len(structures),
            n_from_cache=n_from_cache,
            max_failed_fraction=self.max_failed_fraction,
        )
        if self.enforce_failure_policy:
            check_failure_policy(document)
        return document

    def _compute(self, structure: Structure, index: int) -> tuple[SinglePointLabel | None, str]:
        directory = Path.cwd() / f"label_{index:05d}"
        shutil.rmtree(directory, ignore_errors=True)  # left by an earlier job run here
        try:
            label = run_single_point(
                structure, self.level_of_theory, directory, self.oracle_settings
            )
        except Exception as exc:  # any engine failure is recorded, the policy decides
            label, reason = None, f"{type(exc).__name__}: {exc}"
        else:
            reason = "" if label.converged else label.metadata.get("failure", "SCF not converged")
        if reason:
            logger.warning("structure %d failed to label: %s", index, reason)
            label = None
        if not self.keep_files:
            shutil.rmtree(directory, ignore_errors=True)
        elif directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
        elif label is not None:  # kept as the engine left it when it failed
            gzip_dir(directory)
        return label, reason


@job(data=LABELLED_SET_DATA_FIELDS)
def merge_labelled_sets(
    documents: list[LabelledSetDocument], enforce_failure_policy: bool = True
) -> LabelledSetDocument:
    """Merge chunk labelled sets into one and apply the failure policy to the total.

    Raises:
        IonflowInputError: sets of different oracles or levels of theory.
    """
    merged = merge_documents(documents)
    if enforce_failure_policy:
        check_failure_policy(merged)
    return merged


@job
def label_in_batches(
    structures: list[Structure], maker: LabelMaker, batch_size: int = 50
) -> Response:
    """Label ``structures`` in jobs of ``batch_size`` structures, then merge them.

    The structures are only known at run time (AIMD snapshots), so this job replaces
    itself with one :class:`LabelMaker` job per chunk and a merge job whose output is
    the merged :class:`LabelledSetDocument`.
    """
    chunk_maker = dataclasses.replace(maker, enforce_failure_policy=False)
    jobs = []
    for start in range(0, max(len(structures), 1), batch_size):
        chunk_job = chunk_maker.make(structures[start : start + batch_size])
        chunk_job.name = f"{maker.name} {start // batch_size + 1}"
        jobs.append(chunk_job)
    merge = merge_labelled_sets(
        [j.output for j in jobs], enforce_failure_policy=maker.enforce_failure_policy
    )
    merge.name = f"{maker.name} merge"
    return Response(replace=Flow([*jobs, merge], output=merge.output))
