"""Short-lived, fair, lock-aware access to one DuckDB file shared by several processes.

DuckDB lets one process at a time open a file read-write, and a refused open costs several
milliseconds. So processes take turns through a sidecar lock file (`<db>.lock`, an exclusive
flock held while the DuckDB file is open, naming its holder) and announce that they are waiting
with a shared flock on `<db>.waiters`. A holder keeps the file for a short idle window after its
last call (or for an explicit session); once it has had its turn it hands the file over at the
next call boundary when someone is waiting.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import json
import os
import random
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from registry_core import config
from registry_core.entities import FileUsage
from registry_core.errors import RegistryLocked, RegistryReadOnly
from registry_core.store.migrations import SCHEMA_VERSION, current_version, migrate, registry_id

SERVER_NOTE_SUFFIX = ".server"
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock")
_PID_PATTERN = re.compile(r"\(PID (\d+)\)")
_LOCK_FILE_PID = re.compile(r"^process (\d+)")
_OWNER_ONLY = 0o600
# What opening a file for writing fails with in a folder the process may only read.
_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_DUCKDB_NOT_WRITABLE = ("Permission denied", "Read-only file system")
_DUCKDB_READ_ONLY = "read-only mode"
_POLL_FIRST = 0.0005
_POLL_MAX = 0.005
_DUCKDB_BACKOFF_MAX = 0.1
FAIR_SHARE_SECONDS = 0.05
_IDLE_POLL_SECONDS = 0.01
_APPEND_BATCH_ROWS = 200
# Registry statements touch a few rows each: one thread runs them sooner than two that must
# coordinate (measured: writes 20% and point reads 30% faster, searches of 100,000 versions as
# fast), and it leaves the other core to the caller.
_DUCKDB_CONFIG = {"threads": 1}


@dataclass(frozen=True)
class AppendOnly:
    """A table that changes only add rows to (history, outbox, idempotent answers): an insert
    without its VALUES, and one row's placeholders."""

    insert: str
    row: str


def is_lock_error(error: BaseException) -> bool:
    """True when DuckDB refused to open the file because another process holds it."""
    return isinstance(error, duckdb.Error) and any(m in str(error) for m in _LOCK_MARKERS)


def process_description(pid: int | str) -> str:
    """`process PID (program)`: the program's name from /proc, never its arguments, which can
    hold secrets (`--secret ...`)."""
    try:
        program = Path(f"/proc/{int(pid)}/comm").read_text(errors="replace").strip()
    except (OSError, ValueError):
        program = ""
    return f"process {pid} ({program})" if program else f"process {pid}"


def _holder(pattern: re.Pattern[str], text: str) -> str:
    """The process a lock names, described afresh from its pid alone: whatever else the text
    holds (an older version wrote whole command lines into the lock file) is never repeated."""
    match = pattern.search(text)
    return process_description(match.group(1)) if match else "another process"


def _create_owner_only(db_path: Path) -> None:
    """Create an empty DuckDB file that only its owner can read. DuckDB creates files with the
    umask's permissions, so the file is made in a private folder, then linked into place. A
    file another process created meanwhile is kept; on a filesystem without hard links, DuckDB
    creates the file itself."""
    staging = Path(tempfile.mkdtemp(prefix=f".{db_path.name}.", dir=db_path.parent))
    try:
        fresh = staging / db_path.name
        duckdb.connect(str(fresh)).close()
        fresh.chmod(_OWNER_ONLY)
        with contextlib.suppress(OSError):
            os.link(fresh, db_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _open_lock_file(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, _OWNER_ONLY)


def _flock(fd: int, operation: int) -> bool:
    """Try a non-blocking flock; False when another open file holds a conflicting lock."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def server_note(db_path: Path) -> Path:
    """Where a running registry server names itself beside the registry file it holds."""
    return db_path.with_name(db_path.name + SERVER_NOTE_SUFFIX)


def read_server_note(db_path: Path) -> dict[str, Any] | None:
    """The URL and pid of the server that holds this file, when one says so and still runs."""
    try:
        note = json.loads(server_note(db_path).read_text())
        os.kill(int(note["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return note if isinstance(note, dict) else None


class ConnectionManager:
    """One process's handle on one registry file; thread-safe, fork-aware, closed when idle."""

    def __init__(self, db_path: Path, idle_seconds: float, lock_timeout: float) -> None:
        self.db_path = db_path
        self.idle_seconds = idle_seconds
        self.lock_timeout = lock_timeout
        self._registry_id: str | None = None
        self._reset_state()
        _MANAGERS.add(self)

    def _reset_state(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._in_use = 0
        self._in_transaction = False
        self._appends: dict[AppendOnly, list[Sequence[Any]]] = {}
        self._sessions = 0
        self._deadline = 0.0
        self._opened_at = 0.0
        self._yield_until = 0.0
        self._closer: threading.Thread | None = None
        self._turn_fd: int | None = None
        self._waiters_fd: int | None = None
        self._opens = 0
        self._waited = 0.0
        self._opening = 0.0
        self._held = 0.0
        self._db_mode = _OWNER_ONLY
        self._read_only = False

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    @property
    def opens(self) -> int:
        """How many times this manager opened the file; lets tests and benchmarks see reuse."""
        return self._opens

    def usage(self) -> FileUsage:
        """Opens, waits and holding time so far (the current hold counted up to now)."""
        with self._cond:
            held = self._held + (time.monotonic() - self._opened_at if self._conn else 0.0)
            return FileUsage(self._opens, self._waited, self._opening, held)

    def registry_id(self) -> str:
        """The id stored in the file, read once per opening (the file may have been replaced)."""
        with self.connection() as conn:
            if self._registry_id is None:
                self._registry_id = registry_id(conn)
            return self._registry_id

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the connection for one call; calls from other threads wait their turn."""
        with self._cond:
            conn = self._acquire()
            try:
                yield conn
            except duckdb.Error as error:
                if self._read_only and _DUCKDB_READ_ONLY in str(error):
                    raise self._not_writable("it can be read, not changed") from error
                raise
            finally:
                self._release()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One registry change: committed whole, or rolled back whole on any error. Inside an
        open transaction of the same thread it joins that one, which commits or rolls back."""
        with self.connection() as conn:
            if self._in_transaction:
                yield conn
                return
            conn.execute("BEGIN TRANSACTION")
            self._in_transaction = True
            try:
                yield conn
                self.flush_appends()
            except BaseException:
                self._appends.clear()
                conn.execute("ROLLBACK")
                raise
            finally:
                self._in_transaction = False
            conn.execute("COMMIT")
            self._protect_wal()

    def append(self, table: AppendOnly, row: Sequence[Any]) -> None:
        """Add a row to an append-only table. Inside a transaction the rows wait, and each
        table's rows are written by one INSERT before the transaction commits (or before a
        statement of the transaction reads them: see `flush_appends`), so a batch of changes
        sharing a commit pays one statement per table, not one per change and table."""
        with self.connection() as conn:
            if not self._in_transaction:
                conn.execute(table.insert + table.row, list(row))
                return
            rows = self._appends.setdefault(table, [])
            rows.append(row)
            if len(rows) >= _APPEND_BATCH_ROWS:
                self._write_appended(table)

    def flush_appends(self) -> None:
        """Write the rows `append` holds back; a statement of the same transaction that reads
        or writes an append-only table directly calls this first."""
        with self._cond:
            for table in list(self._appends):
                self._write_appended(table)

    def _write_appended(self, table: AppendOnly) -> None:
        rows = self._appends.pop(table)
        assert self._conn is not None
        self._conn.execute(
            table.insert + ", ".join([table.row] * len(rows)),
            [value for row in rows for value in row],
        )

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep the file open for the whole block, then close it at once."""
        with self._cond:
            self._acquire()
            self._sessions += 1
            self._release()
        try:
            yield
        finally:
            with self._cond:
                self._sessions -= 1
                if self._sessions == 0 and self._in_use == 0:
                    self._close()

    def close(self) -> None:
        """Close the file now (it reopens on the next call)."""
        with self._cond:
            self._close()

    def _acquire(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:
            self._conn = self._open()
        self._in_use += 1
        return self._conn

    def _release(self) -> None:
        self._in_use -= 1
        if self._in_use or self._sessions:
            return
        if self.idle_seconds <= 0:
            self._close()
            return
        if time.monotonic() - self._opened_at >= FAIR_SHARE_SECONDS and self._others_waiting():
            self._hand_over()
            return
        self._deadline = time.monotonic() + self.idle_seconds
        if self._closer is None:
            self._closer = threading.Thread(
                target=self._close_when_idle, name="registry-idle-closer", daemon=True
            )
            self._closer.start()

    def _close_when_idle(self) -> None:
        with self._cond:
            while self._conn is not None:
                if self._in_use or self._sessions:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    self._close()
                    break
                if self._others_waiting():
                    self._hand_over()
                    break
                self._cond.wait(min(remaining, _IDLE_POLL_SECONDS))
            self._closer = None

    def _hand_over(self) -> None:
        """Close for a waiting process and stay away long enough for it to take its turn."""
        self._close()
        self._yield_until = time.monotonic() + random.uniform(2 * _POLL_MAX, 4 * _POLL_MAX)

    def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._held += time.monotonic() - self._opened_at
            try:
                conn.close()
            finally:
                self._end_turn()
            self._cond.notify_all()

    def _open(self) -> duckdb.DuckDBPyConnection:
        began = time.monotonic()
        deadline = began + self.lock_timeout
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._read_only = not self._take_turn(deadline)
        turn = time.monotonic()
        try:
            if not self._read_only and not self.db_path.exists():
                _create_owner_only(self.db_path)
            conn = self._connect(deadline)
            try:
                self._db_mode = stat.S_IMODE(os.stat(self.db_path).st_mode)
                if self._read_only and current_version(conn) < SCHEMA_VERSION:
                    raise self._not_writable(
                        f"its schema needs an upgrade to version {SCHEMA_VERSION}: open it once "
                        "with write access"
                    )
                migrate(conn)
                self._protect_wal()
            except BaseException:
                conn.close()
                raise
        except BaseException:
            self._end_turn()
            raise
        self._opened_at = time.monotonic()
        self._waited += turn - began
        self._opening += self._opened_at - turn
        self._opens += 1
        self._registry_id = None
        return conn

    def _protect_wal(self) -> None:
        """Give the WAL, which DuckDB creates with the umask's permissions, the database's."""
        with contextlib.suppress(FileNotFoundError, PermissionError):  # none now; another user's
            os.chmod(f"{self.db_path}.wal", self._db_mode)

    def _connect(self, deadline: float) -> duckdb.DuckDBPyConnection:
        """Open DuckDB, waiting out processes that hold the file without taking turns."""
        backoff = _POLL_MAX
        while True:
            try:
                return duckdb.connect(
                    str(self.db_path), read_only=self._read_only, config=_DUCKDB_CONFIG
                )
            except duckdb.Error as error:
                if not self._read_only and any(m in str(error) for m in _DUCKDB_NOT_WRITABLE):
                    self._read_only = True
                    continue
                if not is_lock_error(error):
                    raise
                if time.monotonic() >= deadline:
                    raise self._locked(_holder(_PID_PATTERN, str(error))) from error
                time.sleep(random.uniform(backoff / 2, backoff))
                backoff = min(backoff * 2, _DUCKDB_BACKOFF_MAX)

    def _take_turn(self, deadline: float) -> bool:
        """Take this process's turn through the lock file; False, taking none, when the lock
        files cannot be written (a read-only registry, which is then opened read-only)."""
        if self._turn_fd is None:
            try:
                self._turn_fd = _open_lock_file(f"{self.db_path}.lock")
                self._waiters_fd = _open_lock_file(f"{self.db_path}.waiters")
            except OSError as error:
                if self._turn_fd is not None:
                    os.close(self._turn_fd)
                    self._turn_fd = None
                if error.errno in _READ_ONLY_ERRNOS:
                    return False
                raise
        pause = self._yield_until - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if not _flock(self._turn_fd, fcntl.LOCK_EX):
            note = read_server_note(self.db_path)
            if note is not None:
                raise RegistryLocked(
                    f"The registry file {self.db_path} is held by the registry server at "
                    f"{note.get('url')} (pid {note.get('pid')}): use MODEL_REGISTRY_URI="
                    f"{note.get('url')} (with a MODEL_REGISTRY_TOKEN) instead of the file."
                )
            self._wait_for_turn(deadline)
        os.ftruncate(self._turn_fd, 0)
        os.pwrite(self._turn_fd, process_description(os.getpid()).encode(), 0)
        return True

    def _wait_for_turn(self, deadline: float) -> None:
        assert self._turn_fd is not None and self._waiters_fd is not None
        fcntl.flock(self._waiters_fd, fcntl.LOCK_SH)
        try:
            backoff = _POLL_FIRST
            while not _flock(self._turn_fd, fcntl.LOCK_EX):
                if time.monotonic() >= deadline:
                    text = os.pread(self._turn_fd, 100, 0).decode(errors="replace")
                    raise self._locked(_holder(_LOCK_FILE_PID, text))
                time.sleep(random.uniform(backoff / 2, backoff))
                backoff = min(backoff * 2, _POLL_MAX)
        finally:
            fcntl.flock(self._waiters_fd, fcntl.LOCK_UN)

    def _end_turn(self) -> None:
        if self._turn_fd is not None:
            fcntl.flock(self._turn_fd, fcntl.LOCK_UN)

    def _others_waiting(self) -> bool:
        if self._waiters_fd is None or _flock(self._waiters_fd, fcntl.LOCK_EX):
            if self._waiters_fd is not None:
                fcntl.flock(self._waiters_fd, fcntl.LOCK_UN)
            return False
        return True

    def _not_writable(self, consequence: str) -> RegistryReadOnly:
        return RegistryReadOnly(
            f"The registry {self.db_path} is read-only for this process (its folder or file is "
            f"not writable): {consequence}."
        )

    def _locked(self, holder: str) -> RegistryLocked:
        return RegistryLocked(
            f"The registry file {self.db_path} stayed locked by {holder} for "
            f"{self.lock_timeout:g} s; raise MODEL_REGISTRY_LOCK_TIMEOUT or stop that process."
        )

    def _after_fork_in_child(self) -> None:
        # The parent's connection and lock files belong to the parent: keep them referenced,
        # never close them here.
        _ORPHANED.append((self._conn, self._turn_fd, self._waiters_fd))
        self._reset_state()


_MANAGERS: weakref.WeakSet[ConnectionManager] = weakref.WeakSet()
_ORPHANED: list[object] = []
_SHARED: dict[tuple[Path, float, float], ConnectionManager] = {}
_SHARED_LOCK = threading.Lock()


def shared_manager(db_path: Path, idle_seconds: float, lock_timeout: float) -> ConnectionManager:
    """The one manager per file and settings in this process, so clients share a connection."""
    key = (
        db_path,
        config.setting("idle_timeout", idle_seconds),
        config.setting("lock_timeout", lock_timeout),
    )
    with _SHARED_LOCK:
        manager = _SHARED.get(key)
        if manager is None:
            manager = _SHARED[key] = ConnectionManager(db_path, idle_seconds, lock_timeout)
        return manager


def _reinit_after_fork() -> None:
    global _SHARED_LOCK
    _SHARED_LOCK = threading.Lock()
    for manager in list(_MANAGERS):
        manager._after_fork_in_child()


def _close_all() -> None:
    for manager in list(_MANAGERS):
        manager.close()


if sys.platform != "win32":
    os.register_at_fork(after_in_child=_reinit_after_fork)
atexit.register(_close_all)
