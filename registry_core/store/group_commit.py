"""Group commit: concurrent registry changes run by one thread in one transaction, one commit.

A commit costs a DuckDB file about a millisecond whatever it holds, and so does each statement,
so a server that commits each request alone spends most of its time committing while other
requests wait for the file. Changes that arrive together run one after the other in a single
transaction; the rows they append (history, outbox, idempotent answers) go in one INSERT per
table, and their idempotency keys are looked up in one query. Changes of one kind that arrive one
after the other (registrations, say) can go further and run as one call (`Combine`), which
writes each table once for all of them. Each change still happens whole or not at all: when one
of them fails, the batch is rolled back and each change runs again in a transaction of its own,
so the failure touches only its own caller.

Most keys need no lookup at all. The committer names an epoch (a random id, renewed after
`EPOCH_KEYS` keys) and remembers every key it records during it; a client that has seen the
epoch (a response header) starts its keys with it. Such a key was recorded, if ever, by this
committer during this epoch, so when it is not remembered it is new: only keys of an older
epoch, or without one, are looked up in the file.
"""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from registry_core.errors import InvalidParameterValue

if TYPE_CHECKING:
    from registry_core.store.admin_sql import Answer, DuckDBAdminStore

T = TypeVar("T")
MAX_BATCH = 64
EPOCH_KEYS = 100_000


class _Failed(Exception):
    """One change of a batch raised; the batch is rolled back and replayed one by one."""


@dataclass(frozen=True)
class Once:
    """An idempotent change's key (scoped to its caller), the fingerprint of its request, and
    the epoch the client's key starts with (`<epoch>.<rest>`), if any."""

    key: str
    fingerprint: str
    epoch: str | None = None


@dataclass(frozen=True)
class Combine:
    """How a change runs together with the changes of its `kind` next to it in a batch:
    `perform_all` makes the changes of all their `arguments` at once, in order, and returns
    each one's result as its own `change` would."""

    kind: str
    perform_all: Callable[[list[Any]], list[Any]]
    arguments: Any


@dataclass
class _Job:
    change: Callable[[], Any]
    once: Once | None
    combine: Combine | None = None
    done: Future[Any] = field(default_factory=Future)


class GroupCommitter:
    """Runs submitted changes on its own thread, batching those that wait for it."""

    def __init__(self, store: DuckDBAdminStore, epoch_keys: int = EPOCH_KEYS) -> None:
        self.store = store
        self.epoch_keys = epoch_keys
        self.epoch = secrets.token_hex(8)
        self._recorded: set[str] = set()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="registry-group-commit", daemon=True)
        self._thread.start()

    def submit(self, change: Callable[[], T], once: Once | None = None) -> T:
        """Run `change` in a transaction (perhaps shared with others) and return its result.
        With `once`, the change must return a (status, response) answer: a key already
        answered gets that answer again and the change does not run; the same key for another
        request is refused."""
        return self.enqueue(change, once).result()

    def enqueue(
        self, change: Callable[[], T], once: Once | None = None, combine: Combine | None = None
    ) -> Future[T]:
        """`submit` without waiting: the future of the change's result. With `combine`, the
        change may run together with its neighbours of the same kind."""
        job = _Job(change, once, combine)
        self._jobs.put(job)
        return job.done

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

    def _commit(self, batch: list[_Job]) -> None:
        if len(batch) > 1:
            try:
                with self.store.manager.transaction():
                    answers = self._answers(batch)
                    results = []
                    for run in _runs(batch):
                        try:
                            results.extend(self._perform_run(run, answers))
                        except BaseException as error:
                            raise _Failed from error
            except BaseException:  # a change or the commit failed: each on its own, below
                pass
            else:
                self._remember(batch)
                for job, result in zip(batch, results, strict=True):
                    job.done.set_result(result)
                return
        for job in batch:
            try:
                with self.store.manager.transaction():
                    result = self._perform(job, self._answers([job]))
            except BaseException as error:
                job.done.set_exception(error)
            else:
                self._remember([job])
                job.done.set_result(result)

    def _answers(self, batch: list[_Job]) -> dict[str, Answer]:
        """What the file holds for the batch's keys that may have been recorded before."""
        keys = [
            job.once.key
            for job in batch
            if job.once is not None
            and (job.once.epoch != self.epoch or job.once.key in self._recorded)
        ]
        return self.store.recorded_answers(keys) if keys else {}

    def _remember(self, committed: list[_Job]) -> None:
        """Note the keys of the current epoch that are now on disk; start a new epoch when
        the current one has noted enough."""
        self._recorded.update(
            job.once.key for job in committed if job.once and job.once.epoch == self.epoch
        )
        if len(self._recorded) >= self.epoch_keys:
            self.epoch = secrets.token_hex(8)
            self._recorded.clear()

    def _perform(self, job: _Job, answers: dict[str, Answer]) -> Any:
        return self._perform_run([job], answers)[0]

    def _perform_run(self, run: list[_Job], answers: dict[str, Answer]) -> list[Any]:
        """The results of a run of jobs: a job whose key was answered before gets that answer,
        the others run, as one call when they combine."""
        results: list[Any] = [self._kept(job, answers) for job in run]
        fresh = [i for i, result in enumerate(results) if result is None]
        combined = [run[i].combine for i in fresh]
        if len(fresh) > 1 and all(combined):
            outcomes = combined[0].perform_all([c.arguments for c in combined])  # type: ignore[union-attr]
        else:
            outcomes = [run[i].change() for i in fresh]
        for i, outcome in zip(fresh, outcomes, strict=True):
            results[i] = outcome
            once = run[i].once
            if once is not None:
                status, response = outcome
                answers[once.key] = self.store.record_answer(
                    once.key, once.fingerprint, status, response
                )
        return results

    def _kept(self, job: _Job, answers: dict[str, Answer]) -> Any:
        """The answer kept for the job's key (None when it has none), refusing a key that
        answered another request."""
        kept = answers.get(job.once.key) if job.once is not None else None
        if kept is None:
            return None
        assert job.once is not None
        if kept.fingerprint != job.once.fingerprint:
            raise InvalidParameterValue(
                "This Idempotency-Key was already used for a different request."
            )
        return kept.status, kept.response


def _runs(batch: list[_Job]) -> Iterator[list[_Job]]:
    """The batch in order, cut into runs of neighbours that combine: the same kind, no key
    twice (a repeated key must see the answer its first use records)."""
    run: list[_Job] = []
    for job in batch:
        if run and not _joins(run, job):
            yield run
            run = []
        run.append(job)
    if run:
        yield run


def _joins(run: list[_Job], job: _Job) -> bool:
    first = run[0].combine
    if first is None or job.combine is None or job.combine.kind != first.kind:
        return False
    return job.once is None or all(
        other.once is None or other.once.key != job.once.key for other in run
    )
