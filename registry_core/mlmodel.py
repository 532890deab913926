"""An MLflow model folder's `MLmodel` file: which of the folder's files holds the model itself.

Read by the MLflow importer (a downloaded folder) and by the server (a folder MLflow's client
put through the artifact proxy); neither needs MLflow for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

MLMODEL = "MLmodel"
LIBRARY_FLAVORS: tuple[tuple[str, str], ...] = (
    ("sklearn", "pickled_model"),
    ("xgboost", "data"),
    ("lightgbm", "data"),
)
"""The flavors whose library has a format of this registry, and the key naming their file."""
PYFUNC_KEYS: tuple[str, ...] = ("python_model", "model_path", "data")
PYFUNC = "python_function"


def flavors(text: str | bytes) -> dict[str, Any]:
    """The `flavors` mapping of an MLmodel file's YAML (empty when it has none or is not YAML)."""
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    found = parsed.get("flavors") if isinstance(parsed, dict) else None
    return found if isinstance(found, dict) else {}


def model_files(found: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(flavor, relative path) of each file the flavors name as the model, a library flavor's
    first, then the pyfunc flavor's."""
    for flavor, key in LIBRARY_FLAVORS:
        entry = found.get(flavor)
        if isinstance(entry, dict) and isinstance(entry.get(key), str):
            yield flavor, entry[key]
    pyfunc = found.get(PYFUNC)
    for key in PYFUNC_KEYS:
        if isinstance(pyfunc, dict) and isinstance(pyfunc.get(key), str):
            yield PYFUNC, pyfunc[key]
