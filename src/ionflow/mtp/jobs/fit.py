"""Maker of an MTP fit job."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from jobflow import CURRENT_JOB, JobConfig, Maker, job

from ionflow.io.job_log import job_log
from ionflow.io.labelled_set import LabelledSet
from ionflow.mtp.fit_cache import FitCache, fit_key
from ionflow.mtp.fitting import PASSIVE_WEIGHTS, fit_mtp
from ionflow.mtp.schemas.fit import MtpFitDocument

# fields of MtpFitDocument that are large and go to the JobStore "data" store
MTP_DATA_FIELDS = ["mtp", "training_cfg", "validation_cfg", "parity_validation"]


@dataclass
class MtpFitMaker(Maker):
    """Fit a Moment Tensor Potential to a labelled set.

    Attributes:
        name: job name.
        level: MTP level (paper: 8).
        r_cut: cutoff radius, Å (paper: 5).
        radial_basis_size: Chebyshev radial basis size.
        weights: energy : force : stress (100:1:0 passive, 100:1:0.01 in active learning).
        max_iter: most optimiser iterations (motep stops earlier when the loss plateaus).
        validation_fraction: held-out share (paper: 0.1), fixed-seed split.
        seed: split and initialisation seed.
        engine: ``mlp`` or ``motep``; None: the ``mtp_engine`` setting.
        use_cache: reuse the stored fit of the same training set with the same settings
            (and warm start) from the fit cache (:mod:`ionflow.mtp.fit_cache`).
    """

    name: str = "mtp fit"
    level: int = 8
    r_cut: float = 5.0
    radial_basis_size: int = 8
    weights: tuple[float, float, float] = PASSIVE_WEIGHTS
    max_iter: int = 500
    validation_fraction: float = 0.1
    seed: int = 0
    engine: str | None = None
    use_cache: bool = True

    @job(output_schema=MtpFitDocument, data=MTP_DATA_FIELDS, config=JobConfig(expose_store=True))
    def make(self, labelled_set: LabelledSet, previous_mtp: str | None = None) -> MtpFitDocument:
        """Fit to ``labelled_set`` (its species order is the potential's), optionally warm-started.

        The engine works in the job's folder, which keeps its inputs (``train.cfg``,
        ``validation.cfg``, ``initial.mtp``), outputs and ``fit.log`` (the traceback too
        when the fit fails). A fit already in the fit cache is reused, not repeated: its
        document comes back with ``reused_from_job`` set.

        Args:
            labelled_set: the labelled structures, or a reference to a job's labelled set.
            previous_mtp: ``.mtp`` text of a potential of the same level to start from.
        """
        cache = FitCache.from_job_store(CURRENT_JOB.store) if self.use_cache else None
        key = self._cache_key(labelled_set, previous_mtp) if cache is not None else ""
        with job_log(Path.cwd() / "fit.log"):
            hit = cache.get(key) if cache is not None else None
            if hit is not None:
                output, job_uuid = hit
                print(f"fit reused from the fit cache: job {job_uuid} (same data and settings)")
                return MtpFitDocument.model_validate(output).model_copy(
                    update={"reused_from_job": job_uuid}
                )
            document = fit_mtp(
                labelled_set,
                level=self.level,
                r_cut=self.r_cut,
                radial_basis_size=self.radial_basis_size,
                weights=self.weights,
                max_iter=self.max_iter,
                validation_fraction=self.validation_fraction,
                seed=self.seed,
                previous_mtp=previous_mtp,
                engine=self.engine,
                workdir=Path.cwd(),
            )
        if cache is not None:
            cache.put(key, CURRENT_JOB.job.uuid, CURRENT_JOB.job.index)
        return document

    def _cache_key(self, labelled_set: LabelledSet, previous_mtp: str | None) -> str:
        """Fit-cache key: training set, every setting of this Maker, the warm start."""
        from ionflow.settings import get_settings

        settings = {
            "level": self.level,
            "r_cut": self.r_cut,
            "radial_basis_size": self.radial_basis_size,
            "weights": list(self.weights),
            "max_iter": self.max_iter,
            "validation_fraction": self.validation_fraction,
            "seed": self.seed,
            "engine": self.engine or get_settings().mtp_engine,
            "previous_mtp_sha256": (
                hashlib.sha256(previous_mtp.encode()).hexdigest() if previous_mtp else None
            ),
        }
        return fit_key(labelled_set.cfg_text(), labelled_set.species, settings)
