"""ionflow's exceptions, each saying whether running the same job again can help.

Every ionflow error derives from :class:`IonflowError` and carries a :class:`Retry`
class attribute:

==========================  ================  ==========================================
class                       ``retry``         why
==========================  ================  ==========================================
``IonflowInputError``       ``no``            bad input or setting: fix it, submit again
``EngineKilledError``       ``yes``           the engine was killed (out of memory, node
                                              failure, walltime): the same job can pass
``LabellingFailedError``    ``no``            too many structures failed to label; the
                                              same oracle settings fail the same way
``RelaxNotConvergedError``  ``no``            the relaxation did not converge
``Cp2kOutputError``         ``no``            CP2K failed after custodian's handlers gave
                                              up, or its output is incomplete
``MdUnstableError``         ``new_seed``      same seed, same potential: same run-away; needs
                                              a new seed or more active learning
``MissingResultsError``     ``no``            jobs whose results this one needs failed
                                              (too little is left to compute it): rerun
                                              those, and this job runs again after them
==========================  ================  ==========================================

A job that vanished without raising (lost run, node failure, walltime kill, OOM kill of
the whole job) is found by FireWorks' lost-run detection and rerun; see
:mod:`ionflow.pipeline.resume`.

Where the class is stored: FireWorks calls ``to_dict()`` on the exception that made a
firework FIZZLE and keeps the result in the launch document, under
``action.stored_data._exception._details``. :meth:`IonflowError.to_dict` puts the class
(``error_class``), the retry flag (``retry``) and the message there, and
``ionflow resume`` reads them back with :func:`failure_from_details`; it never looks at
the message text to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class Retry(StrEnum):
    """Whether running the same job again, unchanged, can succeed."""

    YES = "yes"
    """The failure came from outside the job (killed, node lost): retry it."""
    NO = "no"
    """The same inputs fail the same way: fix the input, the settings or the structure."""
    NEW_SEED = "new_seed"
    """The same seed gives the same result: only a new seed or a better potential helps."""


RETRY_ADVICE = {
    Retry.YES: "a plain retry can succeed",
    Retry.NO: "a plain retry fails the same way; fix the cause and rerun",
    Retry.NEW_SEED: "a plain retry repeats it; only a new seed or more active learning helps",
}


class IonflowError(Exception):
    """Base of ionflow's exceptions: the class says whether a plain retry can help.

    Attributes:
        retry: :class:`Retry` of this class of failure.
    """

    retry: ClassVar[Retry] = Retry.NO

    def to_dict(self) -> dict[str, str]:
        """What FireWorks stores with the failed launch (``_exception._details``)."""
        cls = type(self)
        return {
            "error_class": f"{cls.__module__}.{cls.__qualname__}",
            "retry": self.retry.value,
            "message": str(self)[:2000],
        }


class IonflowInputError(IonflowError, ValueError):
    """Bad input from the user (structure, species, setting, missing program).

    The message is one line that says what is wrong and what to do about it. The CLI
    prints it as ``ionflow: error: <message>`` and exits with code 2; nothing that was
    already stored is changed. Retrying the same job cannot help.
    """

    retry = Retry.NO


class EngineKilledError(IonflowError, RuntimeError):
    """An engine process was killed by a signal (out of memory, node failure, walltime).

    Nothing in the job's inputs caused it, so running the same job again can succeed.
    """

    retry = Retry.YES


class MissingResultsError(IonflowError, RuntimeError):
    """Jobs whose results this job needs failed, and too little is left to compute it.

    Raised by a job that gathers the results of several runs (their references resolve
    to None where a run failed; jobflow's ``OnMissing.NONE``) when what finished is not
    enough, e.g. an Arrhenius fit left with fewer than two temperatures, and by the
    analysis of a run whose MD job failed. Retrying it alone repeats it; rerunning the
    failed jobs (FireWorks reruns their children after them) does not.
    """

    retry = Retry.NO


def killed_by_signal(returncode: int) -> int | None:
    """Signal number that ended a process with ``returncode``, or None if it exited.

    Python reports ``-N`` for a child killed by signal N; shells, ``mpirun`` and ``srun``
    report ``128 + N``.
    """
    if returncode < 0:
        return -returncode
    if 128 < returncode < 160:
        return returncode - 128
    return None


@dataclass(frozen=True)
class Failure:
    """A failed job as ``ionflow resume`` sees it.

    Attributes:
        error_class: dotted class name of the exception (``unknown`` if not recorded).
        retry: whether a plain retry can help; None for an exception that is not an
            ionflow error (unclassified: retried up to the retry limit).
        message: the exception message (or the last traceback line).
    """

    error_class: str
    retry: Retry | None
    message: str

    @property
    def short_class(self) -> str:
        """Class name without its module."""
        return self.error_class.rsplit(".", 1)[-1]


def failure_from_details(details: object, stacktrace: str = "") -> Failure:
    """Read back what :meth:`IonflowError.to_dict` stored with a failed launch.

    Args:
        details: ``_exception._details`` of the launch (None for non-ionflow errors).
        stacktrace: ``_exception._stacktrace``, used only for the message of an
            unclassified failure.
    """
    lines = stacktrace.strip().splitlines()
    last_line = lines[-1][:500] if lines else "no stack trace recorded"
    if isinstance(details, dict) and details.get("retry") in set(Retry):
        return Failure(
            error_class=str(details.get("error_class") or "unknown"),
            retry=Retry(details["retry"]),
            message=str(details.get("message") or last_line),
        )
    return Failure(error_class="unknown", retry=None, message=last_line)


def describe_validation_error(exc: Exception, unknown: str = "unknown key") -> str:
    """One line for the first error of a pydantic ``ValidationError``.

    ``unknown key 'a.b'`` for a key the model does not have, else ``'a.b': message``.
    """
    err = exc.errors()[0]  # type: ignore[attr-defined]
    key = ".".join(str(part) for part in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{unknown} '{key}'"
    return f"'{key}': {err['msg']}"
