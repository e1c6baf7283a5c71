"""Failure classes: each ionflow error says whether a plain retry can help (issue 10)."""

from __future__ import annotations

import pytest

from ionflow.dft.jobs.label import LabellingFailedError
from ionflow.dft.jobs.relax import RelaxNotConvergedError
from ionflow.dft.parsers import Cp2kOutputError
from ionflow.errors import (
    EngineKilledError,
    IonflowError,
    IonflowInputError,
    MissingResultsError,
    Retry,
    failure_from_details,
    killed_by_signal,
)
from ionflow.md.run import MdUnstableError
from ionflow.settings import ConfigError


@pytest.mark.parametrize(
    ("error_class", "retry"),
    [
        (IonflowInputError, Retry.NO),
        (ConfigError, Retry.NO),
        (LabellingFailedError, Retry.NO),
        (RelaxNotConvergedError, Retry.NO),
        (Cp2kOutputError, Retry.NO),
        (MdUnstableError, Retry.NEW_SEED),
        (EngineKilledError, Retry.YES),
        (MissingResultsError, Retry.NO),
    ],
)
def test_each_error_class_says_whether_a_retry_helps(error_class, retry):
    assert issubclass(error_class, IonflowError)
    assert error_class.retry is retry
    # what FireWorks stores with the failed launch reads back as the same class and flag
    failure = failure_from_details(error_class("went wrong").to_dict(), "Traceback ...")
    assert failure.error_class == f"{error_class.__module__}.{error_class.__qualname__}"
    assert failure.retry is retry
    assert failure.message == "went wrong"


def test_other_exceptions_are_unclassified_whatever_their_text():
    trace = "Traceback...\nValueError: IonflowInputError MdUnstableError in the text"
    failure = failure_from_details(None, trace)
    assert failure.retry is None
    assert failure.message == "ValueError: IonflowInputError MdUnstableError in the text"


def test_signal_of_a_killed_engine():
    assert killed_by_signal(-9) == 9  # subprocess
    assert killed_by_signal(137) == 9  # shell, mpirun, srun
    assert killed_by_signal(1) is None
    assert killed_by_signal(0) is None
