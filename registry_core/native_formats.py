"""XGBoost's and LightGBM's own model formats: data files their libraries parse, never pickles.

Each format says which models it owns, how to dump and load them, and how to recognise its bytes.
The libraries are optional extras, imported only when a model of theirs is saved or loaded; a
missing one raises `MissingDependency` naming the extra that installs it.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from registry_core.errors import InvalidParameterValue, MissingDependency

XGBOOST_UBJ = "xgboost_ubj"
XGBOOST_JSON = "xgboost_json"
LIGHTGBM_TEXT = "lightgbm_text"
PACKAGE = "dagster-model-registry"
_XGBOOST_TYPES = {"classifier": "XGBClassifier", "regressor": "XGBRegressor", "ranker": "XGBRanker"}
_LIGHTGBM_CLASSIFIER_OBJECTIVES = frozenset({"binary", "multiclass", "multiclassova"})


@dataclass(frozen=True)
class NativeFormat:
    """One library's model format: the models it owns, its dump, load and byte sniffing."""

    name: str
    library: str
    owns: Callable[[object], bool]
    dump: Callable[[object], bytes]
    load: Callable[[bytes], object]
    detect: Callable[[bytes], bool]


def library(name: str) -> ModuleType:
    """Import an optional model library, or say which extra installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependency(
            f"The {name} library is not installed, so {name} models cannot be saved or loaded: "
            f"pip install '{PACKAGE}[{name}]'."
        ) from exc


def _loaded_instance(model: object, module: str, class_name: str) -> bool:
    """True when `module` is already imported and `model` is an instance of its `class_name`:
    a model of a library that was never imported cannot exist, so nothing is imported here."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, class_name, None) if loaded else None
    return isinstance(cls, type) and isinstance(model, cls)


def _require_label_encoded(model: Any, library_name: str) -> None:
    """Refuse classifiers whose classes are not 0..n-1: the formats keep no class labels."""
    import numpy as np

    classes = getattr(model, "classes_", None)
    if classes is not None and not np.array_equal(np.asarray(classes), np.arange(len(classes))):
        raise InvalidParameterValue(
            f"{library_name}'s model format keeps no class labels, and this classifier's are "
            f"{list(classes)[:5]}: encode the target as 0..n-1 before fitting."
        )


def _xgboost_dump(suffix: str) -> Callable[[object], bytes]:
    def dump(model: Any) -> bytes:
        _require_label_encoded(model, "XGBoost")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"model.{suffix}"
            model.save_model(path)
            return path.read_bytes()

    return dump


def _xgboost_load(data: bytes) -> object:
    """The scikit-learn wrapper XGBoost saved the model from, rebuilt from the model file."""
    xgb = library("xgboost")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(data))
    except xgb.core.XGBoostError as exc:
        raise InvalidParameterValue(f"Model data is not a valid XGBoost model: {exc}") from exc
    meta = json.loads(booster.attr("scikit_learn") or "{}")
    class_name = _XGBOOST_TYPES.get(meta.get("_estimator_type", ""))
    if class_name is None:
        raise InvalidParameterValue(
            "This XGBoost model was not saved from a scikit-learn wrapper (XGBClassifier, "
            "XGBRegressor, XGBRanker), so it has no predict on DataFrames."
        )
    model = getattr(xgb, class_name)()
    model.load_model(bytearray(data))
    return model


def _lightgbm_dump(model: Any) -> bytes:
    _require_label_encoded(model, "LightGBM")
    return model.booster_.model_to_string().encode("utf-8")


def _lightgbm_load(data: bytes) -> object:
    """An LGBMClassifier or LGBMRegressor around the booster the text model describes."""
    lgb = library("lightgbm")
    from lightgbm.sklearn import _LGBMLabelEncoder

    try:
        booster = lgb.Booster(model_str=data.decode("utf-8"))
    except (UnicodeDecodeError, lgb.basic.LightGBMError) as exc:
        raise InvalidParameterValue(f"Model data is not a valid LightGBM model: {exc}") from exc
    dumped = booster.dump_model(num_iteration=0)
    objective = str(dumped["objective"]).split()[0]
    if objective in _LIGHTGBM_CLASSIFIER_OBJECTIVES:
        import numpy as np

        model = lgb.LGBMClassifier(objective=objective)
        classes = np.arange(max(2, int(dumped["num_class"])))
        model._le = _LGBMLabelEncoder().fit(classes)
        model._class_map = {int(c): int(c) for c in classes}
        model._classes = classes
        model._n_classes = len(classes)
    else:
        model = lgb.LGBMRegressor(objective=objective)
    model._Booster = booster
    model._objective = objective
    model._n_features = booster.num_feature()
    model._n_features_in = booster.num_feature()
    model._fitted_with_feature_names = True
    model.fitted_ = True
    return model


NATIVE_FORMATS: dict[str, NativeFormat] = {
    fmt.name: fmt
    for fmt in (
        NativeFormat(
            XGBOOST_UBJ,
            "xgboost",
            owns=lambda model: _loaded_instance(model, "xgboost", "XGBModel"),
            dump=_xgboost_dump("ubj"),
            load=_xgboost_load,
            detect=lambda head: len(head) > 1 and head[:1] == b"{" and head[1:2] in b"LlIiU#$",
        ),
        NativeFormat(
            XGBOOST_JSON,
            "xgboost",
            owns=lambda model: False,
            dump=_xgboost_dump("json"),
            load=_xgboost_load,
            detect=lambda head: head.startswith(b'{"learner"'),
        ),
        NativeFormat(
            LIGHTGBM_TEXT,
            "lightgbm",
            owns=lambda model: _loaded_instance(model, "lightgbm", "LGBMModel"),
            dump=_lightgbm_dump,
            load=_lightgbm_load,
            detect=lambda head: head.startswith(b"tree\nversion="),
        ),
    )
}


def native_format_for(model: object) -> NativeFormat | None:
    """The native format that owns this model by default, None for any other model."""
    return next((fmt for fmt in NATIVE_FORMATS.values() if fmt.owns(model)), None)


def detect_native_format(head: bytes) -> str | None:
    """The native format whose files start like `head`, None when none does."""
    return next((fmt.name for fmt in NATIVE_FORMATS.values() if fmt.detect(head)), None)
