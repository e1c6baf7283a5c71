"""The part of an MPI communicator motep's fit calls, over pipes to worker processes.

motep's loss is written for a master-worker split over configurations: rank ``r`` of
``size`` evaluates configurations ``r, r + size, ...`` and the partial sums meet in
``allreduce``/``Allreduce``; rank 0 runs the optimiser and the other ranks serve the
operations it ``bcast``s (``motep.optimizers.base.ParallelOptimizerBase``). mpi4py is the
usual communicator, but a fit on a workstation or in a one-task SLURM job has no MPI, and
threads cannot share the work (motep's C kernel holds the GIL). :class:`PipeComm` is the
subset of ``mpi4py.MPI.Comm`` motep calls (``rank``, ``size``, ``bcast``, ``allreduce``,
``Allreduce``, ``gather``, ``allgather``, ``barrier``, ``send``, ``recv``) for rank 0 (this
process) and ranks 1..N-1 (worker processes started by :func:`worker_processes`), over
one duplex pipe per worker: a star, workers talk to rank 0 only.

Reductions sum in rank order on rank 0, so a fit on N processes differs from one on one
process only in the order of floating-point additions.

Workers die with the fit: rank 0 ends them when the fit returns or raises (closing the
pipes ends their wait; stragglers are terminated, then killed), and each worker watches
its parent and exits as soon as rank 0's process is gone (a killed job). A worker that
raises or dies makes rank 0's next exchange with it raise one error naming the worker.

Workers start with the ``spawn`` method (a fresh interpreter: no fork of a parent that may
hold threads, torch or a database client). As for every ``spawn`` user, the program's
``__main__`` must be safe to import (``if __name__ == "__main__":``); a script that is not
can set ``fit_processes: 1``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np

from ionflow.errors import EngineKilledError, IonflowError, Retry

logger = logging.getLogger(__name__)

_COLLECTIVE = -1  # tag of collective operations (point-to-point tags are >= 0)
_FAILED = -2  # tag of a worker's last message: the exception it raised
STOP_WAIT_S = 5.0  # how long a finished fit waits for its workers to exit on their own
WATCHED_PARENT_EXIT_CODE = 70  # a worker whose rank 0 vanished exits with this code


class FitWorkerError(IonflowError, RuntimeError):
    """A worker process of a parallel fit raised, or exited without its result.

    The message names the worker and its exception; the worker's traceback is attached
    as a note. The same inputs fail the same way, so a plain retry does not help.
    """

    retry = Retry.NO


class RankZeroGoneError(Exception):
    """Rank 0 closed its end of the pipe: the fit ended or failed there (it reports why)."""


class PipeComm:
    """The subset of ``mpi4py.MPI.Comm`` motep's fit calls, over multiprocessing pipes.

    Args:
        rank: this process's rank (0: the process running the optimiser).
        size: number of ranks.
        links: duplex pipe to each peer (rank 0: one per worker; a worker: ``{0: pipe}``).
        processes: rank 0 only: the worker process of each peer (to tell why one is gone).
    """

    def __init__(
        self,
        rank: int,
        size: int,
        links: dict[int, Connection],
        processes: dict[int, BaseProcess] | None = None,
    ) -> None:
        self.rank, self.size = rank, size
        self._links = links
        self._processes = processes or {}
        self._stash: dict[int, list[tuple[int, Any]]] = {peer: [] for peer in links}

    @property
    def _workers(self) -> range:
        return range(1, self.size)

    # --- point to point ------------------------------------------------------------
    def _post(self, peer: int, tag: int, obj: Any) -> None:
        try:
            self._links[peer].send((tag, obj))
        except (OSError, EOFError) as exc:  # BrokenPipeError, ConnectionResetError, closed
            if self.rank == 0:
                self._raise_gone(peer)
            raise RankZeroGoneError from exc

    def _take(self, peer: int, tag: int) -> Any:
        """The next message from ``peer`` with ``tag`` (others are kept for later)."""
        stash = self._stash[peer]
        for k, (stashed_tag, obj) in enumerate(stash):
            if stashed_tag == tag:
                del stash[k]
                return obj
        while True:
            got_tag, obj = self._receive(peer)
            if got_tag == tag:
                return obj
            stash.append((got_tag, obj))

    def _receive(self, peer: int) -> tuple[int, Any]:
        conn = self._links[peer]
        if self.rank == 0:
            wait([conn, self._processes[peer].sentinel])  # a message, or the worker's end
            if not conn.poll(0):
                self._raise_gone(peer)
        try:
            return self._receive_ready(peer)
        except (OSError, EOFError) as exc:
            if self.rank == 0:
                self._raise_gone(peer)
            raise RankZeroGoneError from exc

    def _receive_ready(self, peer: int) -> tuple[int, Any]:
        tag, obj = self._links[peer].recv()
        if tag == _FAILED:
            raise self._worker_failure(peer, *obj)
        return tag, obj

    def _raise_gone(self, peer: int) -> None:
        """Raise why worker ``peer`` can no longer be reached (rank 0 only)."""
        conn = self._links[peer]
        try:
            while conn.poll(0):  # its exception may still wait in the pipe
                self._stash[peer].append(self._receive_ready(peer))
        except (OSError, EOFError):
            pass
        process = self._processes[peer]
        process.join(STOP_WAIT_S)
        code = process.exitcode
        name = f"fit process {peer} of {self.size}"
        if code is not None and code < 0:
            raise EngineKilledError(
                f"{name} was killed by signal {-code} (out of memory, or killed from outside)"
            )
        raise FitWorkerError(f"{name} exited (code {code}) without its result")

    def _worker_failure(
        self, peer: int, exc: BaseException | None, summary: str, worker_traceback: str
    ) -> BaseException:
        """The error rank 0 raises for a worker's exception (an ionflow error keeps its class)."""
        where = f"fit process {peer} of {self.size}"
        error: BaseException
        if isinstance(exc, IonflowError):
            error = exc
        else:
            error = FitWorkerError(f"{where} failed: {summary}")
        error.add_note(f"traceback in {where}:\n{worker_traceback.rstrip()}")
        return error

    def send(self, obj: Any, dest: int, tag: int = 0) -> None:
        """Send ``obj`` to rank ``dest`` (rank 0 <-> worker only)."""
        self._check_link(dest, tag)
        self._post(dest, tag, obj)

    def recv(self, buf: Any = None, source: int = 0, tag: int = 0) -> Any:
        """Receive the next object ``source`` sent with ``tag`` (``buf`` is ignored)."""
        self._check_link(source, tag)
        return self._take(source, tag)

    def _check_link(self, peer: int, tag: int) -> None:
        if peer not in self._links or tag < 0:
            raise NotImplementedError(
                f"PipeComm links rank 0 with each worker, tags >= 0: rank {self.rank} "
                f"cannot exchange with rank {peer} (tag {tag})"
            )

    # --- collectives (every rank calls them in the same order) ---------------------
    def bcast(self, obj: Any, root: int = 0) -> Any:
        """Return ``root``'s ``obj`` on every rank (relayed by rank 0)."""
        if self.rank == 0:
            if root != 0:
                obj = self._take(root, _COLLECTIVE)
            for peer in self._workers:
                if peer != root:
                    self._post(peer, _COLLECTIVE, obj)
            return obj
        if self.rank == root:
            self._post(0, _COLLECTIVE, obj)
            return obj
        return self._take(0, _COLLECTIVE)

    def gather(self, sendobj: Any, root: int = 0) -> list[Any] | None:
        """Return every rank's ``sendobj`` in rank order on rank 0 (None elsewhere)."""
        if root != 0:
            raise NotImplementedError("PipeComm gathers on rank 0 only")
        if self.rank == 0:
            return [sendobj, *(self._take(peer, _COLLECTIVE) for peer in self._workers)]
        self._post(0, _COLLECTIVE, sendobj)
        return None

    def allgather(self, sendobj: Any) -> list[Any]:
        """Return every rank's ``sendobj``, in rank order, on every rank."""
        return self.bcast(self.gather(sendobj), root=0)

    def barrier(self) -> None:
        """Return when every rank has called it."""
        self.allgather(None)

    def allreduce(self, sendobj: Any, op: Any = None) -> Any:
        """Return the sum of every rank's ``sendobj`` (added in rank order) on every rank."""
        if op is not None:
            raise NotImplementedError("PipeComm reduces by sum only (op=None)")
        if self.rank == 0:
            total = sendobj
            for peer in self._workers:
                total = total + self._take(peer, _COLLECTIVE)
            return self.bcast(total, root=0)
        self._post(0, _COLLECTIVE, sendobj)
        return self.bcast(None, root=0)

    def Allreduce(self, sendbuf: np.ndarray, recvbuf: np.ndarray, op: Any = None) -> None:  # noqa: N802
        """Write the sum of every rank's ``sendbuf`` into ``recvbuf`` (mpi4py's buffer form)."""
        recvbuf[...] = self.allreduce(np.asarray(sendbuf), op)


def can_start_workers() -> bool:
    """False in a daemonic process (multiprocessing forbids it children)."""
    return not multiprocessing.current_process().daemon


@contextmanager
def worker_processes(size: int, target: Callable[[PipeComm], None]) -> Iterator[PipeComm]:
    """Run ``target(comm)`` in ``size - 1`` worker processes; yield rank 0's communicator.

    ``target`` must be a module-level function (spawned workers import it). On leaving,
    the pipes are closed and every worker is gone: after the fit it has returned (waited
    for up to ``STOP_WAIT_S``); after an error it is terminated, then killed.
    """
    context = multiprocessing.get_context("spawn")
    links: dict[int, Connection] = {}
    processes: dict[int, BaseProcess] = {}
    failed = True
    try:
        for rank in range(1, size):
            ours, theirs = context.Pipe(duplex=True)
            process = context.Process(
                target=_serve, args=(target, theirs, rank, size), name=f"ionflow-fit-{rank}"
            )
            process.start()
            theirs.close()  # only the worker holds its end: its exit is an EOF here
            links[rank], processes[rank] = ours, process
        yield PipeComm(0, size, links, processes)
        failed = False
    finally:
        for conn in links.values():
            conn.close()
        for process in processes.values():
            _end(process, wait_s=0.2 if failed else STOP_WAIT_S)


def _end(process: BaseProcess, wait_s: float) -> None:
    process.join(wait_s)
    if process.is_alive():
        logger.debug("terminating %s", process.name)
        process.terminate()
        process.join(STOP_WAIT_S)
    if process.is_alive():
        process.kill()
        process.join()
    process.close()


def _exit_with_parent() -> None:
    """Exit this worker as soon as the process that started it is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's sentinel closes: it exited or was killed
        os._exit(WATCHED_PARENT_EXIT_CODE)

    threading.Thread(target=watch, name="exit-with-rank-0", daemon=True).start()


def _serve(target: Callable[[PipeComm], None], conn: Connection, rank: int, size: int) -> None:
    """A worker's main: run ``target`` as rank ``rank``; report an exception to rank 0."""
    _exit_with_parent()
    try:
        target(PipeComm(rank, size, {0: conn}))
    except RankZeroGoneError:
        return  # rank 0 ended the fit; it says why
    except BaseException as exc:  # every failure goes to rank 0
        summary = f"{type(exc).__name__}: {exc}"
        worker_traceback = traceback.format_exc()
        try:
            conn.send((_FAILED, (exc, summary, worker_traceback)))
        except Exception:  # an exception that cannot be pickled: its text only
            with contextlib.suppress(OSError):  # (rank 0 may be gone too)
                conn.send((_FAILED, (None, summary, worker_traceback)))
        raise SystemExit(1) from None
    finally:
        conn.close()
