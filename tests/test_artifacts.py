"""The content-addressed artifact store: atomic writes, verification, gc and source validation."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry_core.artifacts import (
    CHUNK_SIZE,
    ArtifactRef,
    ArtifactStore,
    validate_source,
)
from registry_core.errors import (
    ArtifactIntegrityError,
    InvalidParameterValue,
    ResourceDoesNotExist,
)

SHA = hashlib.sha256(b"model").hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def final_files(store: ArtifactStore) -> list[Path]:
    """Every file in the store outside the staging folder."""
    return [
        path
        for path in store.root.rglob("*")
        if path.is_file() and not path.is_relative_to(store.tmp_dir)
    ]


def test_put_bytes_stores_under_digest(store: ArtifactStore) -> None:
    ref = store.put_bytes(b"model")
    assert ref == ArtifactRef(SHA, 5)
    assert ref.uri == f"artifacts:/{SHA}"
    assert store.path_for(SHA) == store.root / SHA[:2] / SHA
    assert store.path_for(SHA).read_bytes() == b"model"
    assert store.exists(SHA)
    assert store.read_verified(SHA) == b"model"
    assert store.verify(SHA) is None
    assert list(store.tmp_dir.iterdir()) == []


def test_put_file_streams_large_file(store: ArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 17)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    ref = store.put_file(source)
    assert ref == ArtifactRef(hashlib.sha256(data).hexdigest(), len(data))
    assert store.read_verified(ref.sha256) == data


def test_put_file_missing_source(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ResourceDoesNotExist, match="no such file"):
        store.put_file(tmp_path / "absent.bin")


def test_put_is_idempotent(store: ArtifactStore, tmp_path: Path) -> None:
    first = store.put_bytes(b"model")
    before = store.path_for(SHA).stat()
    source = tmp_path / "model.bin"
    source.write_bytes(b"model")
    assert store.put_bytes(b"model") == first
    assert store.put_file(source) == first
    after = store.path_for(SHA).stat()
    assert after.st_ino == before.st_ino
    assert after.st_mtime_ns >= before.st_mtime_ns
    assert store.digests() == {SHA}
    assert list(store.tmp_dir.iterdir()) == []


def test_put_repairs_a_corrupted_copy(store: ArtifactStore) -> None:
    store.put_bytes(b"model")
    store.path_for(SHA).write_bytes(b"mode!")
    store.put_bytes(b"model")
    assert store.read_verified(SHA) == b"model"


def test_tampering_one_byte_fails_verification(store: ArtifactStore) -> None:
    store.put_bytes(b"model")
    path = store.path_for(SHA)
    path.write_bytes(b"mode\x00")
    actual = hashlib.sha256(b"mode\x00").hexdigest()
    with pytest.raises(ArtifactIntegrityError) as caught:
        store.read_verified(SHA)
    message = str(caught.value)
    assert "checksum mismatch" in message
    assert f"expected sha256 {SHA}" in message
    assert f"actual sha256 {actual}" in message
    problem = store.verify(SHA)
    assert problem is not None and "checksum mismatch" in problem


def test_missing_artifact_fails_clearly(store: ArtifactStore) -> None:
    store.put_bytes(b"model")
    store.path_for(SHA).unlink()
    with pytest.raises(ArtifactIntegrityError, match=f"Artifact {SHA} is missing"):
        store.read_verified(SHA)
    problem = store.verify(SHA)
    assert problem is not None and "missing" in problem
    assert not store.exists(SHA)


@pytest.mark.parametrize("digest", ["", "abc", SHA.upper(), SHA[:-1] + "g", "../" + SHA[3:]])
def test_path_for_refuses_bad_digests(store: ArtifactStore, digest: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid artifact digest"):
        store.path_for(digest)


def test_digests_ignores_strays_and_staging(store: ArtifactStore) -> None:
    ref = store.put_bytes(b"model")
    (store.root / "README").write_text("not an artifact")
    (store.root / "ab").mkdir()
    (store.root / "ab" / "not-a-digest").write_text("stray")
    (store.root / "ff").mkdir()
    (store.root / "ff" / SHA).write_bytes(b"wrong shard")
    (store.tmp_dir / "put-x.part").write_bytes(b"partial")
    assert store.digests() == {ref.sha256}


def test_gc_removes_exactly_the_unreferenced(store: ArtifactStore) -> None:
    refs = [store.put_bytes(f"artifact {i}".encode()) for i in range(5)]
    keep = {refs[0].sha256, refs[3].sha256}
    planned = store.gc(keep, dry_run=True)
    assert {ref.sha256 for ref in planned} == {refs[i].sha256 for i in (1, 2, 4)}
    assert store.digests() == {ref.sha256 for ref in refs}
    removed = store.gc(keep)
    assert sorted(removed, key=lambda r: r.sha256) == sorted(planned, key=lambda r: r.sha256)
    assert all(ref.size == len("artifact 0") for ref in removed)
    assert store.digests() == keep
    for sha in keep:
        store.read_verified(sha)
    assert store.gc(keep) == []


def test_gc_removes_only_stale_temp_files(store: ArtifactStore) -> None:
    store.put_bytes(b"model")
    stale = store.tmp_dir / "put-stale.part"
    fresh = store.tmp_dir / "put-fresh.part"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"in progress")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    assert store.stale_temp_files() == [stale]
    assert store.gc({SHA}, dry_run=True) == []
    assert stale.exists()
    assert store.gc({SHA}) == []
    assert not stale.exists()
    assert fresh.exists()
    assert store.digests() == {SHA}


def test_gc_on_empty_store(store: ArtifactStore) -> None:
    assert store.gc(set()) == []
    assert store.digests() == set()
    assert store.stale_temp_files() == []


CHILD = """
import sys
from pathlib import Path
from registry_core.artifacts import ArtifactStore
ArtifactStore(Path(sys.argv[1])).put_file(Path(sys.argv[2]))
"""


@pytest.mark.timeout(30)
def test_sigkill_during_put_leaves_no_final_file(store: ArtifactStore, tmp_path: Path) -> None:
    fifo = tmp_path / "slow-source"
    os.mkfifo(fifo)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(store.root), str(fifo)])
    try:
        with fifo.open("wb") as writer:
            writer.write(b"x" * (3 * CHUNK_SIZE))
            writer.flush()
            partial = wait_for_partial_temp_file(store, child)
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert partial.exists()
    assert 0 < partial.stat().st_size < 4 * CHUNK_SIZE
    assert final_files(store) == []
    assert store.digests() == set()
    two_hours_ago = time.time() - 7200
    os.utime(partial, (two_hours_ago, two_hours_ago))
    store.gc(set())
    assert list(store.tmp_dir.iterdir()) == []


def wait_for_partial_temp_file(store: ArtifactStore, child: subprocess.Popen[bytes]) -> Path:
    """Poll the staging folder until the child has written bytes to a temp file."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert child.poll() is None, "the writer exited before it could be killed"
        if store.tmp_dir.is_dir():
            started = [path for path in store.tmp_dir.iterdir() if path.stat().st_size > 0]
            if started:
                return started[0]
    raise AssertionError("the writer never produced a temp file")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    (root / SHA[:2]).mkdir(parents=True)
    (root / SHA[:2] / SHA).write_bytes(b"model")
    return root


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("runs:/abc123/model", "runs:/abc123/model"),
        ("runs:/abc123", "runs:/abc123"),
        ("RUNS:/abc123//model/./data/", "runs:/abc123/model/data"),
        ("models:/iris/3", "models:/iris/3"),
        ("models:/iris/Production", "models:/iris/Production"),
        ("models:/iris@champion", "models:/iris@champion"),
        (f"artifacts:/{SHA}", f"artifacts:/{SHA}"),
    ],
)
def test_valid_uris_are_normalised(root: Path, source: str, expected: str) -> None:
    assert validate_source(source, root) == expected


def test_paths_inside_the_root_are_accepted(root: Path) -> None:
    final = str((root / SHA[:2] / SHA).resolve())
    assert validate_source(f"{SHA[:2]}/{SHA}", root) == final
    assert validate_source(str(root / SHA[:2] / SHA), root) == final
    assert validate_source(f"file://{root}/{SHA[:2]}/{SHA}", root) == final
    assert validate_source(f"file://localhost{root}/{SHA[:2]}/{SHA}", root) == final
    (root / "models").mkdir()
    (root / "models" / "current").symlink_to(root / SHA[:2] / SHA)
    assert validate_source("models/current", root) == final


def test_symlink_leading_outside_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (root / "escape").symlink_to(secret)
    (root / "escape-dir").symlink_to(tmp_path)
    for source in (
        "escape",
        str(root / "escape"),
        f"file://{root}/escape",
        "escape-dir/secret.txt",
    ):
        with pytest.raises(InvalidParameterValue, match="symlink") as caught:
            validate_source(source, root)
        assert repr(source) in str(caught.value)


DOTS = "'..' path segments"
BACKSLASH = "backslashes are not allowed"
OUTSIDE = "not inside the artifact store root"
SCHEME = "is not allowed; allowed schemes are runs:/, models:/, artifacts:/ and file://"
RUN_ID = "valid run id"
MODELS = "expected models:/<name>"
ARTIFACTS = "expected artifacts:/<sha256>"
UNSAFE_SOURCES = [
    ("../outside", DOTS),
    ("ab/../../outside", DOTS),
    ("./../outside", DOTS),
    ("%2e%2e/outside", DOTS),
    ("%2E%2E%2Foutside", DOTS),
    ("ab%2f..%2f..%2foutside", DOTS),
    ("%252e%252e/outside", DOTS),
    ("%25252e%25252e%25252foutside", DOTS),
    ("\u2025/outside", DOTS),
    ("ab\\..\\..\\outside", BACKSLASH),
    ("..\\outside", BACKSLASH),
    ("ab%5c..%5coutside", BACKSLASH),
    ("model\x00.skops", "NUL byte"),
    ("model%00.skops", "NUL byte"),
    ("model\n.skops", "control character"),
    ("/etc/passwd", OUTSIDE),
    ("file:///etc/passwd", OUTSIDE),
    ("file:/etc/passwd", OUTSIDE),
    ("file://evil.example.com/etc/passwd", "must be local"),
    ("file://localhost/etc/passwd", OUTSIDE),
    ("file:///%2e%2e/etc/passwd", DOTS),
    ("file:relative/model", "absolute path"),
    ("s3://bucket/model", SCHEME),
    ("http://example.com/model", SCHEME),
    ("https://example.com/model", SCHEME),
    ("ftp://example.com/model", SCHEME),
    ("gs://bucket/model", SCHEME),
    ("dbfs:/model", SCHEME),
    ("runs:/abc/../../etc", DOTS),
    ("runs:/abc/%2e%2e/%2e%2e/etc", DOTS),
    ("runs:/abc/%2E%2E%2F%2E%2E%2Fetc", DOTS),
    ("runs:/abc/model%2f..%2f..%2fetc", DOTS),
    ("runs:/abc/%252e%252e/etc", DOTS),
    ("runs:/../etc", DOTS),
    ("runs:/abc\\..\\etc", BACKSLASH),
    ("runs://abc/model", "single slash"),
    ("runs:/", RUN_ID),
    ("runs:/-bad/model", RUN_ID),
    ("models:/../iris/1", DOTS),
    ("models:/iris/1/extra", MODELS),
    ("models:/iris", MODELS),
    ("models:/@alias", MODELS),
    ("artifacts:/not-a-digest", ARTIFACTS),
    (f"artifacts:/{SHA.upper()}", ARTIFACTS),
    (f"artifacts:/{SHA}/extra", ARTIFACTS),
    (f"artifacts:/../{SHA}", DOTS),
    ("", "empty"),
    ("   ", "empty"),
    (".tmp/put-x.part", "staging folder"),
    (".", OUTSIDE),
]


@pytest.mark.parametrize(("source", "reason"), UNSAFE_SOURCES)
def test_unsafe_sources_are_refused(root: Path, source: str, reason: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        validate_source(source, root)
    message = str(caught.value)
    assert repr(source) in message
    assert reason in message


def test_absolute_path_outside_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "model.skops"
    with pytest.raises(InvalidParameterValue, match="not inside the artifact store root"):
        validate_source(str(outside), root)
    with pytest.raises(InvalidParameterValue, match="not inside the artifact store root"):
        validate_source(f"file://{outside}", root)
    with pytest.raises(InvalidParameterValue, match="not inside"):
        validate_source(str(root), root)


def test_unknown_scheme_names_the_allowed_ones(root: Path) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        validate_source("s3://bucket/model", root)
    message = str(caught.value)
    assert "scheme 's3' is not allowed" in message
    for scheme in ("runs:/", "models:/", "artifacts:/", "file://"):
        assert scheme in message
