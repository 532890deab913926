"""Model serialisation: skops (safe by default), XGBoost's and LightGBM's own formats
(`native_formats`), and pickle via joblib (opt-in only).

The loader, never the file, decides which types are trusted: a skops file lists the types it
needs, and each must be on the built-in list, be a class defined in scikit-learn, NumPy or SciPy,
or be named by the caller or by the MODEL_REGISTRY_TRUSTED_TYPES environment variable. The
libraries are imported when a model is saved or loaded, never by importing this module.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import io
import os
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TypeVar

from registry_core.archive_limits import check_zip
from registry_core.errors import (
    InvalidParameterValue,
    ModelFileError,
    RegistryError,
    UntrustedModelError,
)
from registry_core.native_formats import NATIVE_FORMATS, detect_native_format, native_format_for

T = TypeVar("T")
SKOPS = "skops"
PICKLE = "pickle"
FORMATS = (SKOPS, PICKLE, *NATIVE_FORMATS)
_ZIP_MAGIC = b"PK\x03\x04"
TRUSTED_TYPES_ENV = "MODEL_REGISTRY_TRUSTED_TYPES"
TRUSTED_PACKAGES = frozenset({"sklearn", "numpy", "scipy"})
BUILTIN_TRUSTED_TYPES = frozenset(
    {
        "builtins.frozenset",
        "collections.Counter",
        "datetime.date",
        "datetime.datetime",
        "datetime.timedelta",
    }
)


def _skops() -> ModuleType:
    """`skops.io`, imported on first use: its import walks scikit-learn for about a second, which
    loading a Dagster code location or starting the CLI should not pay."""
    import skops.io

    return skops.io


def default_format(model: object) -> str:
    """The format to save a model in: XGBoost's or LightGBM's own for their estimators, skops
    for other scikit-learn estimators, pickle otherwise (an estimator exists only once
    scikit-learn is imported, so this never imports it)."""
    native = native_format_for(model)
    if native is not None:
        return native.name
    sklearn_base = sys.modules.get("sklearn.base")
    estimator = getattr(sklearn_base, "BaseEstimator", None) if sklearn_base else None
    return SKOPS if estimator is not None and isinstance(model, estimator) else PICKLE


def detect_format(head: bytes) -> str:
    """The format of a model file from its first bytes: a zip is skops, pickle when unknown."""
    if head.startswith(_ZIP_MAGIC):
        return SKOPS
    return detect_native_format(head) or PICKLE


def dump_model(model: object, fmt: str = SKOPS) -> bytes:
    """Serialise a model to bytes in the given format."""
    _check_format(fmt)
    if fmt in NATIVE_FORMATS:
        return NATIVE_FORMATS[fmt].dump(model)
    if fmt == SKOPS:
        return _skops().dumps(model)
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def load_model_bytes(
    data: bytes,
    fmt: str,
    *,
    trusted_types: Iterable[str] = (),
    allow_pickle: bool = False,
) -> object:
    """Deserialise a model, refusing untrusted skops types and, unless allowed, any pickle; a
    file its library cannot read raises `ModelFileError`, whatever the library raised."""
    _check_format(fmt)
    if fmt in NATIVE_FORMATS:
        return _read(fmt, lambda: NATIVE_FORMATS[fmt].load(data))
    if fmt == PICKLE:
        if not allow_pickle:
            raise UntrustedModelError(
                "Refusing to load a pickle model: unpickling can run arbitrary code. "
                "Pass allow_pickle=True only for files from an author you trust."
            )
        import joblib

        return _read(PICKLE, lambda: joblib.load(io.BytesIO(data)))
    needed = _skops_untrusted_types(data)
    refused = _refused_types(needed, trusted_types)
    if refused:
        raise UntrustedModelError(
            f"Refusing to load skops model: it needs untrusted types {', '.join(refused)}. "
            "If you trust the file's author, pass them in trusted_types or add them to the "
            f"{TRUSTED_TYPES_ENV} environment variable (comma-separated)."
        )
    return _read(SKOPS, lambda: _skops().loads(data, trusted=sorted(needed)))


def find_untrusted_types(data: bytes, trusted_types: Iterable[str] = ()) -> list[str]:
    """The types a skops file needs that the loader would refuse, sorted."""
    return _refused_types(_skops_untrusted_types(data), trusted_types)


def is_trusted_type(name: str, trusted_types: Iterable[str] = ()) -> bool:
    """True when the loader trusts the fully qualified type `name`."""
    return _is_trusted(name, _explicit_trust(trusted_types))


def env_trusted_types() -> frozenset[str]:
    """Type names trusted through the MODEL_REGISTRY_TRUSTED_TYPES environment variable."""
    raw = os.environ.get(TRUSTED_TYPES_ENV, "")
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def _explicit_trust(trusted_types: Iterable[str]) -> frozenset[str]:
    """Names trusted outright: built-in list, the caller's and the environment's."""
    return BUILTIN_TRUSTED_TYPES | frozenset(trusted_types) | env_trusted_types()


def _refused_types(needed: Iterable[str], trusted_types: Iterable[str]) -> list[str]:
    """The sorted names among `needed` that the loader does not trust."""
    explicit = _explicit_trust(trusted_types)
    return sorted(name for name in needed if not _is_trusted(name, explicit))


def _is_trusted(name: str, explicit: frozenset[str]) -> bool:
    """The trust decision for one type name, given the explicitly trusted names."""
    return name in explicit or _is_trusted_package_class(name)


def _skops_untrusted_types(data: bytes) -> set[str]:
    """The types skops does not trust by default in this file, read once the file is known to
    stay within the archive limits."""
    check_zip(data, what="skops file")
    return _read(SKOPS, lambda: set(_skops().get_untrusted_types(data=data)))


def _read(fmt: str, read: Callable[[], T]) -> T:
    """`read()`, with whatever the format's library raises on a bad file as a ModelFileError."""
    try:
        return read()
    except (RegistryError, MemoryError):
        raise
    except Exception as error:
        detail = f"{type(error).__name__}: {error}"
        raise ModelFileError(f"Cannot read the {fmt} model file ({detail[:300]}).") from error


@functools.lru_cache(maxsize=1024)
def _is_trusted_package_class(name: str) -> bool:
    """True when `name` resolves to a class defined in scikit-learn, NumPy or SciPy.

    Only modules of those packages are imported, and attributes are looked up statically, so
    resolving a name never calls anything. Functions (`numpy.load`) stay untrusted, and so do
    foreign classes re-exported by a trusted module, such as `numbers.Integral` reached through
    `sklearn.utils._param_validation.Integral`.
    """
    parts = name.split(".")
    if len(parts) < 2 or parts[0] not in TRUSTED_PACKAGES:
        return False
    if not all(part.isidentifier() and not _is_dunder(part) for part in parts):
        return False
    for split in range(len(parts) - 1, 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            try:
                target = inspect.getattr_static(target, attribute)
            except AttributeError:
                return False
        return isinstance(target, type) and target.__module__.split(".")[0] in TRUSTED_PACKAGES
    return False


def _is_dunder(part: str) -> bool:
    """True for `__name__`-style parts, which could reach `__main__` or `__globals__`."""
    return part.startswith("__") and part.endswith("__")


def _check_format(fmt: str) -> None:
    """Refuse a format name that is not one of FORMATS."""
    if fmt not in FORMATS:
        raise InvalidParameterValue(
            f"Unknown model format {fmt!r}; supported formats are {', '.join(FORMATS)}."
        )
