"""Decompression bombs and unreadable model files: refused before anything is inflated, as a
typed registry error, from the library, `load_model` and `registry load-check` alike."""

from __future__ import annotations

import io
import pickle
import struct
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

import registry_core as rc
from registry_core import archive_limits
from registry_core.archive_limits import ArchiveLimits, check_zip
from registry_core.errors import INVALID_PARAMETER_VALUE, ModelFileError, RegistryError
from registry_core.formats import PICKLE, SKOPS, dump_model, load_model_bytes
from registry_core.loading import clear_cache
from tests.cli.conftest import invoke_cli

MiB = 1024 * 1024
BOMB_BYTES = 100 * MiB


def _zip(entries: dict[str, bytes | int], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of the given entries; an int stands for a JSON list padded to that many bytes,
    written in pieces so the test never holds the inflated text."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, content in entries.items():
            if isinstance(content, bytes):
                archive.writestr(name, content)
                continue
            with archive.open(name, "w") as member:
                member.write(b"[")
                for _ in range((content - 2) // MiB):
                    member.write(b" " * MiB)
                member.write(b" " * ((content - 2) % MiB) + b"]")
    return buffer.getvalue()


def _understated(data: bytes, name: bytes, size: int) -> bytes:
    """`data` with the uncompressed size of entry `name` rewritten to `size` in both its local
    header and the central directory, as a forger hiding a bomb would."""
    forged = bytearray(data)
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = forged.find(signature)
        while start != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if forged[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", forged, start + at, size)
            start = forged.find(signature, start + 4)
    return bytes(forged)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A skops-shaped file whose schema.json inflates 100 MiB from about 100 KB."""
    return _zip({"schema.json": BOMB_BYTES})


@pytest.fixture
def peak() -> Iterator[Callable[[], int]]:
    """The peak of Python allocations (bytes) since the test started."""
    tracemalloc.start()
    yield lambda: tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()


def _refused(call: Callable[[], object]) -> RegistryError:
    with pytest.raises(ModelFileError) as caught:
        call()
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    return caught.value


def test_a_bomb_is_refused_before_it_inflates(bomb: bytes, peak: Callable[[], int]) -> None:
    assert len(bomb) < BOMB_BYTES / 500
    before = peak()
    error = _refused(lambda: load_model_bytes(bomb, SKOPS))
    assert "MODEL_REGISTRY_ARCHIVE_MAX_RATIO" in error.message
    assert peak() - before < 8 * MiB


def test_a_bomb_hiding_behind_a_small_declared_size_is_refused(peak: Callable[[], int]) -> None:
    hidden = _understated(_zip({"schema.json": BOMB_BYTES}), b"schema.json", 1000)
    assert [info.file_size for info in zipfile.ZipFile(io.BytesIO(hidden)).infolist()] == [1000]
    before = peak()
    error = _refused(lambda: load_model_bytes(hidden, SKOPS))
    assert "schema.json" in error.message and "1000 bytes" in error.message
    assert peak() - before < 8 * MiB


def test_load_model_and_load_check_refuse_a_registered_bomb(
    bomb: bytes, registry_path: Path
) -> None:
    clear_cache()
    client = rc.RegistryClient(registry_path)
    ref = client.artifacts.put_bytes(bomb)
    client.create_registered_model("m")
    client.create_model_version("m", ref.uri)
    _refused(lambda: rc.load_model("models:/m/1", client=client))
    client.close()
    checked = invoke_cli(registry_path, "load-check", "models:/m/1")
    assert checked.exit_code == 1
    assert checked.stderr.startswith("INVALID_PARAMETER_VALUE: ")
    assert "decompression bomb" in checked.stderr


def test_each_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    model = dump_model(LinearRegression().fit(np.eye(3), [1.0, 2.0, 3.0]))
    entries = len(zipfile.ZipFile(io.BytesIO(model)).infolist())
    assert load_model_bytes(model, SKOPS).predict(np.eye(3)).shape == (3,)
    monkeypatch.setenv(archive_limits.ENV_MAX_ENTRIES, str(entries - 1))
    assert f"{entries} entries" in _refused(lambda: load_model_bytes(model, SKOPS)).message
    monkeypatch.delenv(archive_limits.ENV_MAX_ENTRIES)
    monkeypatch.setenv(archive_limits.ENV_MAX_BYTES, "1000")
    assert archive_limits.ENV_MAX_BYTES in _refused(lambda: load_model_bytes(model, SKOPS)).message
    for bad in ("abc", "-1", "nan", "inf"):
        monkeypatch.setenv(archive_limits.ENV_MAX_BYTES, bad)
        with pytest.raises(RegistryError) as caught:
            load_model_bytes(model, SKOPS)
        assert caught.value.error_code == INVALID_PARAMETER_VALUE


def test_a_generous_ratio_lets_a_big_compressible_file_through(bomb: bytes) -> None:
    lenient = ArchiveLimits(max_bytes=4 * 1024**3, max_entries=10, max_ratio=10_000)
    check_zip(bomb, lenient)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_zip({"schema.json": b"{}"}, zipfile.ZIP_BZIP2), "compression method"),
        (b"PK\x03\x04" + b"\0" * 100, "not a zip archive"),
    ],
)
def test_archives_a_model_loader_cannot_read_safely_are_refused(data: bytes, message: str) -> None:
    assert message in _refused(lambda: load_model_bytes(data, SKOPS)).message


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (_zip({"schema.json": b"[1, 2]"}), SKOPS),  # skops raises a bare TypeError
        (_zip({"schema.json": b"{not json"}), SKOPS),
        (pickle.dumps(LinearRegression())[:-5], PICKLE),
        (b"not a pickle", PICKLE),
    ],
)
def test_a_file_the_library_cannot_read_is_a_registry_error(data: bytes, fmt: str) -> None:
    error = _refused(lambda: load_model_bytes(data, fmt, allow_pickle=True))
    assert error.message.startswith(f"Cannot read the {fmt} model file")
