"""`--convert`: load each MLflow model once, in a separate process, and save it again in this
registry's safe format for its library (skops, XGBoost JSON, LightGBM text), its predictions on
MLflow's input example checked to match before and after.

The worker reads one JSON request a line on stdin (`{"folder", "out"}`) and answers each with a
JSON line on stdout: `{"format", "checked", "signature"}` or `{"error"}`. Unpickling happens
only in the worker, which the user asked for by trusting their MLflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from registry_core.errors import InvalidState

_LOADERS = {"sklearn": "mlflow.sklearn", "xgboost": "mlflow.xgboost", "lightgbm": "mlflow.lightgbm"}


class Converter:
    """The conversion worker process, started on first use and ended with the block."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Converter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait()

    def convert(self, folder: Path, out: Path) -> dict[str, Any]:
        """Convert the MLflow model in `folder` into the file `out`: its format, whether its
        predictions were checked, its signature; or `error` saying why it stays as it is."""
        process = self._worker()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps({"folder": os.fspath(folder), "out": os.fspath(out)}) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            raise InvalidState(f"The conversion process ended (exit code {process.wait()}).")
        return json.loads(line)

    def _worker(self) -> subprocess.Popen[str]:
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "registry_core.mlflow_import.convert"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._process


def _convert(folder: str, out: str) -> dict[str, Any]:
    """Load the model with its MLflow flavor, save it safely, reload and compare predictions."""
    import importlib

    import numpy as np
    from mlflow.models import Model

    from registry_core import formats
    from registry_core.signature import infer_signature

    meta = Model.load(folder)
    flavor = next((name for name in _LOADERS if name in meta.flavors), None)
    if flavor is None:
        return {"error": f"no convertible flavor among {sorted(meta.flavors)}"}
    model = importlib.import_module(_LOADERS[flavor]).load_model(folder)
    fmt = formats.default_format(model)
    if fmt == formats.PICKLE:
        return {"error": f"{type(model).__name__} has no safe format here"}
    data = formats.dump_model(model, fmt)
    again = formats.load_model_bytes(data, fmt)
    example = meta.load_input_example(folder)
    signature = None
    if example is not None:
        before, after = np.asarray(model.predict(example)), np.asarray(again.predict(example))
        same = (
            np.allclose(before, after, equal_nan=True)
            if before.dtype.kind in "fciub" and after.dtype.kind in "fciub"
            else np.array_equal(before, after)
        )
        if not same or before.shape != after.shape:
            return {"error": "predictions on the input example differ after conversion"}
        signature = infer_signature(example, again).to_dict()
    Path(out).write_bytes(data)
    return {"format": fmt, "checked": example is not None, "signature": signature}


def main() -> None:
    """Answer conversion requests until stdin closes; a failure is an answer, not an exit.
    Whatever the libraries print goes to stderr, so stdout carries only the answers."""
    answers, sys.stdout = sys.stdout, sys.stderr
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = _convert(request["folder"], request["out"])
        except Exception as error:  # any library's failure to load or save is reported back
            answer = {"error": f"{type(error).__name__}: {error}"[:500]}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
