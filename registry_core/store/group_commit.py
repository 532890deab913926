"""Group commit: concurrent registry changes run by one thread in one transaction, one commit.

A commit (the WAL written and synced) costs a DuckDB file about a millisecond whatever it holds,
so a server that commits each request alone spends most of its time committing while other
requests wait for the file. Changes that arrive together run one after the other in a single
transaction; each still happens whole or not at all: when one of them fails, the batch is
rolled back and each change runs again in a transaction of its own, so the failure touches
only its own caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from registry_core.store.connection import ConnectionManager

T = TypeVar("T")
MAX_BATCH = 64


class _Failed(Exception):
    """One change of a batch raised; the batch is rolled back and replayed one by one."""


class GroupCommitter:
    """Runs submitted changes on its own thread, batching those that wait for it."""

    def __init__(self, manager: ConnectionManager) -> None:
        self.manager = manager
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="registry-group-commit", daemon=True)
        self._thread.start()

    def submit(self, change: Callable[[], T]) -> T:
        """Run `change` in a transaction (perhaps shared with others) and return its result."""
        done: Future[T] = Future()
        self._jobs.put((change, done))
        return done.result()

    def close(self) -> None:
        """Finish what was submitted, then stop the thread."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)
                    break
                batch.append(job)
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[[], Any], Future[Any]]]) -> None:
        if len(batch) > 1:
            try:
                with self.manager.transaction():
                    results = []
                    for change, _ in batch:
                        try:
                            results.append(change())
                        except BaseException as error:
                            raise _Failed from error
            except BaseException:  # a change or the commit failed: each on its own, below
                pass
            else:
                for (_, done), result in zip(batch, results, strict=True):
                    done.set_result(result)
                return
        for change, done in batch:
            try:
                with self.manager.transaction():
                    result = change()
            except BaseException as error:
                done.set_exception(error)
            else:
                done.set_result(result)
