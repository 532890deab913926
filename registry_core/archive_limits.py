"""Limits on what a zip-based model file may inflate to, checked before any entry is parsed.

A zip's central directory declares each entry's size, and a decompression bomb declares (or
hides) gigabytes in a few kilobytes. `check_zip` refuses an archive with too many entries, too
many declared bytes, a declared size far beyond its own size, an entry compressed with a method
other than stored or deflate, or an entry that inflates past the size it declares. That last
check inflates each deflated entry in bounded chunks and discards the output, so the loader that
reads the entries afterwards gets no more than was declared and allowed.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

from registry_core.config import env_float
from registry_core.errors import ModelFileError

ENV_MAX_BYTES = "MODEL_REGISTRY_ARCHIVE_MAX_BYTES"
ENV_MAX_ENTRIES = "MODEL_REGISTRY_ARCHIVE_MAX_ENTRIES"
ENV_MAX_RATIO = "MODEL_REGISTRY_ARCHIVE_MAX_RATIO"
# Real models stay far inside these: a 300-tree random forest is 1,500 entries and 43 MB, and
# inflates at most 7:1 when deflated (skops stores entries uncompressed by default, 1:1).
DEFAULT_MAX_BYTES = 4 * 1024**3
DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_RATIO = 100.0
# An archive inflating to no more than this is never refused for its ratio: a small file of
# zeros or repeated text compresses far beyond 100:1 and costs nothing to read.
RATIO_FREE_BYTES = 64 * 1024**2
_INPUT_CHUNK = 64 * 1024
_OUTPUT_CHUNK = 1024 * 1024
# A local file header: signature, 22 bytes of fields, then the name and extra-field lengths.
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"


@dataclass(frozen=True)
class ArchiveLimits:
    """The most an archive may inflate to, in bytes, entries and ratio to its own size."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_ratio: float = DEFAULT_MAX_RATIO

    @classmethod
    def from_env(cls) -> ArchiveLimits:
        """The limits set by the MODEL_REGISTRY_ARCHIVE_* variables, else the defaults."""
        return cls(
            max_bytes=int(env_float(ENV_MAX_BYTES, DEFAULT_MAX_BYTES)),
            max_entries=int(env_float(ENV_MAX_ENTRIES, DEFAULT_MAX_ENTRIES)),
            max_ratio=env_float(ENV_MAX_RATIO, DEFAULT_MAX_RATIO),
        )


def check_zip(data: bytes, limits: ArchiveLimits | None = None, what: str = "model file") -> None:
    """Refuse a zip archive that would inflate past `limits` (default: from the environment),
    before anything reads its entries; `what` names the file in the error."""
    limits = limits or ArchiveLimits.from_env()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as error:
        raise ModelFileError(f"Model data is not a valid {what}: not a zip archive.") from error
    if len(entries) > limits.max_entries:
        raise ModelFileError(
            f"The {what} has {len(entries)} entries, more than the {limits.max_entries} "
            f"allowed ({ENV_MAX_ENTRIES})."
        )
    declared = sum(entry.file_size for entry in entries)
    if declared > limits.max_bytes:
        raise ModelFileError(
            f"The {what} would inflate to {declared} bytes, more than the {limits.max_bytes} "
            f"allowed ({ENV_MAX_BYTES})."
        )
    if declared > max(RATIO_FREE_BYTES, limits.max_ratio * len(data)):
        raise ModelFileError(
            f"The {what} would inflate {declared / max(len(data), 1):.0f}-fold, to {declared} "
            f"bytes from {len(data)}; beyond {RATIO_FREE_BYTES} bytes at most "
            f"{limits.max_ratio:g}-fold is allowed ({ENV_MAX_RATIO}): it looks like a "
            "decompression bomb."
        )
    view = memoryview(data)
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise ModelFileError(f"Entry {entry.filename!r} of the {what} is encrypted.")
        if entry.compress_type == zipfile.ZIP_DEFLATED:
            _check_inflated_size(view, entry, what)
        elif entry.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(
                f"Entry {entry.filename!r} of the {what} uses compression method "
                f"{entry.compress_type}; only stored and deflate entries are read."
            )


def _check_inflated_size(data: memoryview, entry: zipfile.ZipInfo, what: str) -> None:
    """Inflate one deflated entry in bounded chunks, discarding the output, and refuse it when it
    yields more than its declared size or is damaged."""
    damaged = ModelFileError(f"Entry {entry.filename!r} of the {what} is damaged.")
    try:
        signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, entry.header_offset)
    except struct.error:
        raise damaged from None
    if signature != _LOCAL_SIGNATURE:
        raise damaged
    start = entry.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    compressed = data[start : start + entry.compress_size]
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflated = at = 0
    pending: bytes | memoryview = b""
    try:
        while not inflater.eof and inflated <= entry.file_size:
            if not pending:
                if at >= len(compressed):
                    inflated += len(inflater.flush())
                    break
                pending = compressed[at : at + _INPUT_CHUNK]
                at += _INPUT_CHUNK
            inflated += len(inflater.decompress(pending, _OUTPUT_CHUNK))
            pending = inflater.unconsumed_tail
    except zlib.error:
        raise damaged from None
    if inflated > entry.file_size:
        raise ModelFileError(
            f"Entry {entry.filename!r} of the {what} inflates past the {entry.file_size} bytes "
            "its header declares: it looks like a decompression bomb."
        )
