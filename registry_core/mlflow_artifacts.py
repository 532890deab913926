"""Where MLflow's client finds files: the artifact proxy's paths and `mlflow-artifacts:/` URIs.

MLflow's tracking server hands its client `mlflow-artifacts:/<path>` locations and serves them
under `/api/2.0/mlflow-artifacts/artifacts/<path>`; this registry does the same, a run's files
under `<experiment_id>/<run_id>/artifacts` and a logged model's under
`<experiment_id>/models/<model_id>/artifacts`, as MLflow lays them out. A path is only a key of
the proxy's table (the bytes are stored by digest), and one that could climb out of a folder
(`..`, absolute, percent-encoded forms of either) is refused all the same.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from registry_core.errors import InvalidParameterValue
from registry_core.validation import UNSAFE_IN_NAMES

SCHEME = "mlflow-artifacts"
LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
"""MLflow's spelling of a logged model id, the only one `models:/<id>` sources accept."""
_MAX_DECODE_ROUNDS = 4


def artifact_uri(folder: str) -> str:
    """The `mlflow-artifacts:/` URI of a proxy folder, as MLflow's client is given it."""
    return f"{SCHEME}:/{folder}"


def run_folder(experiment_id: str, run_id: str) -> str:
    """The proxy folder holding a run's files."""
    return f"{experiment_id}/{run_id}/artifacts"


def logged_model_folder(experiment_id: str, model_id: str) -> str:
    """The proxy folder holding a logged model's MLflow model."""
    return f"{experiment_id}/models/{model_id}/artifacts"


def folder_owner(path: str) -> str | None:
    """The run or logged model whose proxy folder (`run_folder`, `logged_model_folder`) holds
    `path`, None for a path in neither."""
    parts = path.split("/")
    if len(parts) > 4 and parts[1] == "models" and parts[3] == "artifacts":
        return parts[2]
    if len(parts) > 3 and parts[2] == "artifacts":
        return parts[1]
    return None


def logged_model_uri(model_id: str) -> str:
    """The `models:/<model_id>` URI MLflow's client registers a logged model by."""
    return f"models:/{model_id}"


def logged_model_id(source: str) -> str | None:
    """The logged model a `models:/<model_id>` source names; None for any other source."""
    prefix = "models:/"
    if not source.startswith(prefix):
        return None
    rest = source[len(prefix) :]
    return rest if LOGGED_MODEL_ID.fullmatch(rest) else None


def safe_path(path: str) -> str:
    """`path` when it is a relative `/`-separated path with no empty, `.` or `..` segment and
    no backslash or control character, as sent or percent-decoded (up to four times)."""
    if not isinstance(path, str) or not path:
        raise InvalidParameterValue(f"Invalid artifact path {path!r}: it is empty.")
    form = path
    for _ in range(_MAX_DECODE_ROUNDS + 1):
        for variant in (form, unicodedata.normalize("NFKC", form)):
            _check_form(path, variant)
        decoded = unquote(form)
        if decoded == form:
            return path
        form = decoded
    raise _bad_path(path, "it is percent-encoded too many times")


def _check_form(path: str, form: str) -> None:
    if form.startswith("/"):
        raise _bad_path(path, "it is absolute")
    if "\\" in form or UNSAFE_IN_NAMES.search(form):
        raise _bad_path(path, "it holds a backslash or a control character")
    if any(part in ("", ".", "..") for part in form.split("/")):
        raise _bad_path(path, "it has an empty, '.' or '..' segment")


def _bad_path(path: str, reason: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid artifact path {path!r}: {reason}.")
