"""A version registered from an MLflow model folder in the artifact proxy gets this registry's
artifact when the folder already holds the model in one of this registry's safe formats.

MLflow 3 saves a scikit-learn model (and a LightGBM estimator) in skops by default, an XGBoost
model in XGBoost's own format and a LightGBM Booster as LightGBM's text: that file becomes the
version's artifact as it is, so `registry_core.load_model` reads the version with its own loaders
(skops' type checks included: a LightGBM estimator needs its types trusted). Nothing is
unpickled or loaded here: a folder whose model is a pickle (`serialization_format="cloudpickle"`,
a pyfunc `python_model`) or has no flavor this registry knows keeps no artifact of ours, and
MLflow's client still loads the version through the proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from registry_core import formats
from registry_core.errors import ArtifactIntegrityError, InvalidParameterValue
from registry_core.mlflow_artifacts import safe_path
from registry_core.mlmodel import LIBRARY_FLAVORS, MLMODEL, flavors, model_files

if TYPE_CHECKING:
    from registry_core.store.embedded import EmbeddedStore

_HEAD_BYTES = 16
_MAX_MLMODEL_BYTES = 1024 * 1024
_LIBRARIES = frozenset(flavor for flavor, _ in LIBRARY_FLAVORS)


def safe_artifact(store: EmbeddedStore, folder: str) -> dict[str, Any] | None:
    """The artifact record of the file in the proxy `folder` that holds its model in a format of
    this registry other than pickle; None when it has none."""
    mlmodel = store.mlflow_artifact(f"{folder}/{MLMODEL}")
    if mlmodel is None or mlmodel.size > _MAX_MLMODEL_BYTES:
        return None
    for flavor, name in model_files(flavors(store.artifacts.read_verified(mlmodel.sha256))):
        if flavor not in _LIBRARIES:
            continue
        try:
            found = store.mlflow_artifact(f"{folder}/{safe_path(name)}")
        except InvalidParameterValue:
            continue
        if found is None:
            continue
        problem = store.artifacts.verify(found.sha256)
        if problem is not None:
            raise ArtifactIntegrityError(problem)
        with store.artifacts.path_for(found.sha256).open("rb") as handle:
            fmt = formats.detect_format(handle.read(_HEAD_BYTES))
        if fmt != formats.PICKLE:
            return {"sha256": found.sha256, "size": found.size, "format": fmt, "signature": None}
    return None
