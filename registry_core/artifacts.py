"""A content-addressed artifact folder and the rules for where a model version's source may point.

Artifacts live at `<root>/<sha[:2]>/<sha>` and are written atomically: bytes go to a uniquely
named file under `<root>/.tmp/`, are fsynced, then renamed onto the final name, so a crash never
leaves a partial file under a final name.

A registry's folder records its owner in `<root>/registry-owner.json` (the id stored in the
registry file), written on the first write; a write or a garbage collection into a folder that
another registry owns is refused, so no registry can delete the files another one points at.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from registry_core.errors import (
    ArtifactFolderConflict,
    ArtifactIntegrityError,
    InvalidParameterValue,
    ResourceDoesNotExist,
)
from registry_core.mlflow_artifacts import LOGGED_MODEL_ID
from registry_core.validation import UNSAFE_IN_NAMES

ARTIFACT_SCHEME = "artifacts"
TMP_DIR_NAME = ".tmp"
OWNER_FILE_NAME = "registry-owner.json"
CHUNK_SIZE = 1024 * 1024
STALE_TEMP_SECONDS = 3600.0
ALLOWED_SOURCES = (
    "runs:/<run_id>/<path>, models:/<name>/<version-or-stage>, models:/<name>@<alias>, "
    "models:/<logged-model-id>, artifacts:/<sha256>, or a local path or file:// URI inside the "
    "artifact store root"
)

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_RUN_ID_RE = re.compile(r"[A-Za-z0-9][\w-]{0,255}")
_MAX_DECODE_ROUNDS = 4


@dataclass(frozen=True)
class ArtifactRef:
    """The identity of one stored artifact: its sha256 digest and its size in bytes."""

    sha256: str
    size: int

    @property
    def uri(self) -> str:
        """The canonical URI recorded as a model version's source, `artifacts:/<sha256>`."""
        return f"{ARTIFACT_SCHEME}:/{self.sha256}"


@dataclass(frozen=True)
class ArtifactOwner:
    """The registry a folder belongs to: its file, its id (read from the file when first needed)
    and, from before each registry file had a folder of its own, the folder it used then
    (`legacy_root`) and the other files that may still point into this one (`legacy_sharers`)."""

    registry_file: Path
    registry_id: Callable[[], str]
    legacy_root: Path | None = None
    legacy_sharers: Callable[[], list[Path]] = list


def is_sha256(value: str) -> bool:
    """True when `value` is a 64-character lowercase hex digest, the only accepted spelling."""
    return _SHA256_RE.fullmatch(value) is not None


class ArtifactStore:
    """Stores immutable blobs under their sha256 so identical content is kept once."""

    def __init__(self, root: Path, owner: ArtifactOwner | None = None) -> None:
        self._root = Path(root)
        self._owner = owner

    @property
    def root(self) -> Path:
        """The folder holding the shard directories and the `.tmp` staging directory."""
        return self._root

    @property
    def tmp_dir(self) -> Path:
        """Where writes are staged before being renamed onto their final name."""
        return self._root / TMP_DIR_NAME

    @property
    def owner_file(self) -> Path:
        """Where the folder records the registry it belongs to."""
        return self._root / OWNER_FILE_NAME

    def ownership_problem(self) -> str | None:
        """Why this registry may not write into or collect from the folder; None when it may
        (always, for a store that was given no owner, such as an export's)."""
        if self._owner is None:
            return None
        recorded = self._recorded_owner()
        if recorded is None:
            sharers = self._owner.legacy_sharers()
            if sharers and next(self._stored_files(), None) is not None:
                return self._shared_problem(sharers)
            return None
        ours = self._owner.registry_id()
        if recorded.get("registry_id") != ours:
            return (
                f"it belongs to registry {recorded.get('registry_id')} "
                f"({recorded.get('registry_file')}), not to {ours} ({self._owner.registry_file}), "
                f"as {self.owner_file} records. If that registry is gone and nothing needs its "
                "files, delete the record to let this registry take the folder over"
            )
        return None

    def _recorded_owner(self) -> dict[str, str] | None:
        """The folder's owner record, None when it has none."""
        try:
            recorded = json.loads(self.owner_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise ArtifactFolderConflict(
                f"Cannot read the owner record {self.owner_file}: {error}."
            ) from None
        if not isinstance(recorded, dict):
            raise ArtifactFolderConflict(f"The owner record {self.owner_file} is not an object.")
        return recorded

    def _shared_problem(self, sharers: list[Path]) -> str:
        names = ", ".join(path.name for path in sharers)
        folder = sharers[0].parent
        return (
            f"it has no owner record, and {names} in {folder} may point at its files: before "
            "each registry file had an artifact folder of its own, every .duckdb file of a "
            "folder used artifacts/. Give each of them its own folder first, a copy for one "
            f"that holds models (cp -r {self._root}/. {folder}/NAME.artifacts/) or an empty one "
            f"for one that does not (mkdir {folder}/NAME.artifacts)"
        )

    def claim(self, action: str, record: bool = True) -> None:
        """Refuse `action` (a write, a gc) unless the folder is this registry's, and, with
        `record`, record it as this registry's when it records no owner yet."""
        problem = self.ownership_problem()
        if problem is not None:
            raise ArtifactFolderConflict(f"Cannot {action} {self._root}: {problem}.")
        if not record or self._owner is None or self.owner_file.exists():
            return
        _make_dir(self.tmp_dir)
        entry = {
            "registry_id": self._owner.registry_id(),
            "registry_file": str(self._owner.registry_file),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix="owner-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entry, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            try:
                # A hard link never replaces a record another process wrote meanwhile.
                os.link(tmp_name, self.owner_file)
            except FileExistsError:
                self.claim(action, record=False)
            else:
                _fsync_dir(self._root)
        finally:
            Path(tmp_name).unlink(missing_ok=True)

    def path_for(self, sha256: str) -> Path:
        """The final path of a digest, refusing anything but 64 lowercase hex characters."""
        if not isinstance(sha256, str) or not is_sha256(sha256):
            raise InvalidParameterValue(
                f"Invalid artifact digest {sha256!r}: expected 64 lowercase hex characters."
            )
        return self._root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        """True when a file is stored under this digest (its content is not checked)."""
        return self.path_for(sha256).is_file()

    def put_bytes(self, data: bytes) -> ArtifactRef:
        """Store `data` and return its reference; storing the same bytes again only refreshes
        the file's mtime, which keeps it inside the garbage collector's grace period."""
        self.claim("write into")
        ref = ArtifactRef(hashlib.sha256(data).hexdigest(), len(data))
        if self.verify(ref.sha256) is None:
            os.utime(self.path_for(ref.sha256))
            return ref
        return self._store_stream(io.BytesIO(data))

    def put_file(self, path: Path) -> ArtifactRef:
        """Stream a file into the store, hashing it in chunks so large files never sit in memory."""
        if not Path(path).exists():
            raise ResourceDoesNotExist(f"Cannot store {str(path)!r}: no such file.")
        self.claim("write into")
        with open(path, "rb") as source:
            return self._store_stream(source)

    def put_stream(self, stream: BinaryIO, expected_sha256: str | None = None) -> ArtifactRef:
        """Stream bytes into the store; with `expected_sha256`, bytes that hash otherwise are
        refused and nothing is kept (an upload checked against the digest it claims)."""
        if expected_sha256 is not None:
            self.path_for(expected_sha256)
        return self._store_stream(stream, expected_sha256)

    def read_verified(self, sha256: str) -> bytes:
        """Read an artifact; ArtifactIntegrityError if it is missing or its bytes changed."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ArtifactIntegrityError(self._missing_message(sha256, path)) from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ArtifactIntegrityError(_mismatch_message(sha256, actual, path))
        return data

    def verify(self, sha256: str) -> str | None:
        """Describe what is wrong with a stored artifact (missing, checksum mismatch) or None."""
        path = self.path_for(sha256)
        try:
            actual = _hash_file(path)
        except FileNotFoundError:
            return self._missing_message(sha256, path)
        if actual != sha256:
            return _mismatch_message(sha256, actual, path)
        return None

    def _missing_message(self, sha256: str, path: Path) -> str:
        """The integrity message for an artifact whose file is gone, pointing at the folder this
        registry used before it had one of its own when the file is there."""
        message = f"Artifact {sha256} is missing: no file at {path}."
        legacy = self._owner.legacy_root if self._owner else None
        if legacy is not None and (legacy / sha256[:2] / sha256).is_file():
            message += (
                f" It is in {legacy}, the folder every .duckdb file of {legacy.parent} used "
                f"before each had its own: copy that folder's files here "
                f"(cp -r {legacy}/. {self._root}/ && rm -f {self.owner_file})."
            )
        return message

    def digests(self) -> set[str]:
        """The digests of every file stored under a final name."""
        return {path.name for path in self._stored_files()}

    def stale_temp_files(self, max_age_seconds: float = STALE_TEMP_SECONDS) -> list[Path]:
        """Staging files older than `max_age_seconds`, left behind by interrupted writes."""
        if not self.tmp_dir.is_dir():
            return []
        cutoff = time.time() - max_age_seconds
        return sorted(
            path
            for path in self.tmp_dir.iterdir()
            if path.is_file() and path.stat().st_mtime < cutoff
        )

    def gc(
        self, referenced: set[str], dry_run: bool = False, grace_seconds: float | None = None
    ) -> list[ArtifactRef]:
        """Remove (or, in a dry run, only list) every stored artifact whose digest is unreferenced.

        Refused (ArtifactFolderConflict) when the folder belongs to another registry. With
        `grace_seconds`, files modified more recently are kept too: a writer stores its
        artifact before the row that points at it. Staging files older than an hour are removed
        too, but are not part of the returned list (they have no digest); list them beforehand
        with `stale_temp_files()`.
        """
        self.claim("collect garbage in", record=not dry_run)
        cutoff = None if grace_seconds is None else time.time() - grace_seconds
        unreferenced: list[ArtifactRef] = []
        for path in self._stored_files():
            if path.name in referenced:
                continue
            info = path.stat()
            if cutoff is None or info.st_mtime <= cutoff:
                unreferenced.append(ArtifactRef(path.name, info.st_size))
        if dry_run:
            return unreferenced
        for ref in unreferenced:
            self.path_for(ref.sha256).unlink(missing_ok=True)
        for path in self.stale_temp_files():
            path.unlink(missing_ok=True)
        return unreferenced

    def _stored_files(self) -> Iterator[Path]:
        """Files under final names; anything else in the root (staging, strays) is ignored."""
        if not self._root.is_dir():
            return
        for shard in sorted(self._root.iterdir()):
            if not shard.is_dir() or len(shard.name) != 2:
                continue
            for path in sorted(shard.iterdir()):
                if is_sha256(path.name) and path.name[:2] == shard.name and path.is_file():
                    yield path

    def _store_stream(self, source: BinaryIO, expected_sha256: str | None = None) -> ArtifactRef:
        """Copy a stream to a staging file, fsync it, then rename it onto its final name."""
        _make_dir(self.tmp_dir)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix="put-", suffix=".part")
        tmp_path = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fchmod(out.fileno(), 0o644)
                os.fsync(out.fileno())
            ref = ArtifactRef(digest.hexdigest(), size)
            if expected_sha256 is not None and ref.sha256 != expected_sha256:
                raise InvalidParameterValue(
                    f"The uploaded bytes hash to {ref.sha256}, not to {expected_sha256}: "
                    "nothing was stored."
                )
            if self.verify(ref.sha256) is not None:
                final = self.path_for(ref.sha256)
                _make_dir(final.parent)
                os.replace(tmp_path, final)
                _fsync_dir(final.parent)
            else:
                os.utime(self.path_for(ref.sha256))
            return ref
        finally:
            tmp_path.unlink(missing_ok=True)


def _hash_file(path: Path) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _make_dir(path: Path) -> None:
    """Create a directory and fsync its parent when it is new, so it survives a crash."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry change (a rename or a new file) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mismatch_message(expected: str, actual: str, path: Path) -> str:
    """The integrity message for an artifact whose bytes no longer hash to its name."""
    return (
        f"Artifact {expected} failed verification: checksum mismatch at {path} "
        f"(expected sha256 {expected}, actual sha256 {actual})."
    )


def validate_source(source: str, root: Path) -> str:
    """Check a model version's source and return its normalised form, refusing anything unsafe.

    Accepted: `runs:/<run_id>/<path>`, `models:/<name>/<version-or-stage>`,
    `models:/<name>@<alias>`, `models:/<logged-model-id>`, `artifacts:/<sha256>` (returned with
    a lowercase scheme and without empty or `.` segments), and a local path or `file://` URI
    that resolves, symlinks followed, strictly inside `root` and outside its `.tmp` staging
    folder (returned as the resolved absolute path). Relative local paths are read relative to
    `root`, not the working directory.
    """
    if not isinstance(source, str):
        raise _bad_source(source, f"it is not a string but {type(source).__name__}")
    if not source.strip():
        raise _bad_source(source, "it is empty")
    _check_characters(source)
    match = _SCHEME_RE.match(source)
    if match is None:
        _check_no_traversal(source, source)
        return _local_source(source, source, root)
    scheme = match.group(1).lower()
    rest = source[match.end() :]
    if scheme == "file":
        return _file_uri_source(source, root)
    if scheme not in ("runs", "models", ARTIFACT_SCHEME):
        raise _bad_source(
            source,
            f"scheme {scheme!r} is not allowed; allowed schemes are runs:/, models:/, "
            "artifacts:/ and file:// (inside the artifact store root)",
        )
    if not rest.startswith("/") or rest.startswith("//"):
        raise _bad_source(source, f"expected {scheme}:/ followed by a path, with a single slash")
    _check_no_traversal(source, rest)
    segments = [part for part in rest.split("/") if part not in ("", ".")]
    if scheme == "runs":
        return _runs_source(source, segments)
    if scheme == "models":
        return _models_source(source, segments)
    return _artifacts_source(source, segments)


def _check_characters(source: str) -> None:
    """Refuse NUL bytes, control characters and backslashes, decoded or not."""
    for form in _decoded_forms(source, source):
        if "\x00" in form:
            raise _bad_source(source, "it contains a NUL byte")
        if UNSAFE_IN_NAMES.search(form):
            raise _bad_source(source, "it contains a control character or a bidirectional control")
        if "\\" in form:
            raise _bad_source(source, "backslashes are not allowed; use / as the separator")


def _check_no_traversal(source: str, path: str) -> None:
    """Refuse `..` segments in `path`, including percent-encoded and Unicode look-alike forms."""
    for form in _decoded_forms(source, path):
        for variant in (form, unicodedata.normalize("NFKC", form)):
            if ".." in variant.split("/"):
                raise _bad_source(source, "'..' path segments are not allowed")


def _decoded_forms(source: str, text: str) -> list[str]:
    """`text` and each successive percent-decoding of it, so double encoding is seen through."""
    forms = [text]
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            return forms
        forms.append(decoded)
    raise _bad_source(source, "it is percent-encoded too many times")


def _runs_source(source: str, segments: list[str]) -> str:
    """Normalise `runs:/<run_id>[/<path>]`."""
    if not segments or _RUN_ID_RE.fullmatch(segments[0]) is None:
        raise _bad_source(source, "expected runs:/<run_id>/<path> with a valid run id")
    return "runs:/" + "/".join(segments)


def _models_source(source: str, segments: list[str]) -> str:
    """Normalise `models:/<name>/<version-or-stage>`, `models:/<name>@<alias>` or
    `models:/<logged-model-id>` (MLflow's `m-` and 32 hex digits)."""
    name, at, alias = segments[0].partition("@") if segments else ("", "", "")
    by_alias = len(segments) == 1 and bool(name and at and alias)
    by_id = len(segments) == 1 and LOGGED_MODEL_ID.fullmatch(segments[0]) is not None
    if not (by_alias or by_id or len(segments) == 2):
        raise _bad_source(
            source,
            "expected models:/<name>/<version-or-stage>, models:/<name>@<alias> or "
            "models:/<logged-model-id>",
        )
    return "models:/" + "/".join(segments)


def _artifacts_source(source: str, segments: list[str]) -> str:
    """Normalise `artifacts:/<sha256>`."""
    if len(segments) != 1 or not is_sha256(segments[0]):
        raise _bad_source(source, "expected artifacts:/<sha256> with 64 lowercase hex characters")
    return f"{ARTIFACT_SCHEME}:/{segments[0]}"


def _file_uri_source(source: str, root: Path) -> str:
    """Check a `file:` URI: local host only, no query or fragment, path inside the root."""
    parts = urlsplit(source)
    if parts.netloc not in ("", "localhost"):
        raise _bad_source(source, f"file URIs must be local, not on host {parts.netloc!r}")
    if parts.query or parts.fragment:
        raise _bad_source(source, "file URIs may not carry a query or a fragment")
    if not parts.path.startswith("/"):
        raise _bad_source(source, "file URIs need an absolute path, as in file:///path")
    _check_no_traversal(source, parts.path)
    return _local_source(source, unquote(parts.path), root)


def _local_source(source: str, path: str, root: Path) -> str:
    """Resolve a local path (relative ones against `root`) and require it inside `root`."""
    root_resolved = root.resolve()
    candidate = Path(path) if os.path.isabs(path) else root / path
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as exc:
        raise _bad_source(source, f"it cannot be resolved ({exc})") from exc
    if not _strictly_inside(resolved, root_resolved):
        lexical = Path(os.path.abspath(candidate))
        if _strictly_inside(lexical, root.absolute()) or _strictly_inside(lexical, root_resolved):
            reason = f"it follows a symlink to {str(resolved)!r}, outside the artifact store root"
        else:
            reason = "it is not inside the artifact store root"
        raise _bad_source(source, f"{reason} {str(root_resolved)!r}")
    if resolved.is_relative_to(root_resolved / TMP_DIR_NAME):
        raise _bad_source(source, "it points into the staging folder of the artifact store")
    return str(resolved)


def _strictly_inside(path: Path, root: Path) -> bool:
    """True when `path` is below `root` (the root itself does not count)."""
    return path != root and path.is_relative_to(root)


def _bad_source(source: object, reason: str) -> InvalidParameterValue:
    """The error for a refused model source, naming it, the reason and what is allowed."""
    return InvalidParameterValue(
        f"Invalid model source {source!r}: {reason}. Allowed sources: {ALLOWED_SOURCES}."
    )
