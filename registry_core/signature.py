"""Model signatures: the input columns and dtypes a model was trained on, and what it predicts.

A signature is inferred from an input example when a version is registered, stored as JSON, and
enforced before every prediction so a missing column or an unsafe dtype fails loudly instead of
producing silent garbage. NumPy, pandas and scikit-learn are imported by the functions that use
them, so reading or storing a signature (`import registry_core`, the CLI) never pays for them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry_core.errors import InvalidParameterValue

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DATAFRAME = "dataframe"
NDARRAY = "ndarray"
INPUT_KINDS = (DATAFRAME, NDARRAY)
CLASSIFICATION = "classification"
REGRESSION = "regression"
UNKNOWN = "unknown"
OUTPUT_KINDS = (CLASSIFICATION, REGRESSION, UNKNOWN)
_NUMERIC_KINDS = "biuf"


@dataclass(frozen=True)
class ColumnSpec:
    """One input column: its name (its position, for arrays) and its dtype as pandas spells it."""

    name: str
    dtype: str


@dataclass(frozen=True)
class ModelSignature:
    """The inputs a model accepts and the kind of output it produces."""

    inputs: tuple[ColumnSpec, ...]
    output_kind: str
    input_kind: str = DATAFRAME

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            raise InvalidParameterValue(
                f"Unknown signature input kind {self.input_kind!r}; expected one of {INPUT_KINDS}."
            )
        if self.output_kind not in OUTPUT_KINDS:
            raise InvalidParameterValue(
                f"Unknown signature output kind {self.output_kind!r}; "
                f"expected one of {OUTPUT_KINDS}."
            )

    @property
    def column_names(self) -> list[str]:
        """The input column names, in the order the model expects them."""
        return [column.name for column in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict, the form stored in the registry database."""
        return {
            "inputs": [{"name": column.name, "dtype": column.dtype} for column in self.inputs],
            "input_kind": self.input_kind,
            "output_kind": self.output_kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        """Rebuild a signature from `to_dict()` output, refusing malformed input."""
        try:
            inputs = tuple(
                ColumnSpec(name=str(column["name"]), dtype=str(column["dtype"]))
                for column in data["inputs"]
            )
            return cls(
                inputs=inputs,
                output_kind=str(data["output_kind"]),
                input_kind=str(data.get("input_kind", DATAFRAME)),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidParameterValue(f"Malformed model signature {data!r}: {exc}") from exc


def infer_signature(input_example: Any, model: object = None) -> ModelSignature:
    """Infer a signature from a DataFrame or 2-D ndarray example and, if given, the model."""
    import numpy as np
    import pandas as pd

    output_kind = _output_kind(model)
    if isinstance(input_example, pd.DataFrame):
        names = list(input_example.columns)
        if not all(isinstance(name, str) for name in names):
            raise InvalidParameterValue(
                f"Signature columns must be named by strings, got {names!r}."
            )
        _refuse_duplicates(names)
        inputs = tuple(ColumnSpec(name, str(input_example[name].dtype)) for name in names)
        return ModelSignature(inputs, output_kind, DATAFRAME)
    if isinstance(input_example, np.ndarray):
        _require_2d(input_example)
        dtype = str(input_example.dtype)
        inputs = tuple(ColumnSpec(str(i), dtype) for i in range(input_example.shape[1]))
        return ModelSignature(inputs, output_kind, NDARRAY)
    raise InvalidParameterValue(
        "An input example must be a pandas DataFrame or a numpy array, "
        f"got {type(input_example).__name__}."
    )


def enforce_signature(signature: ModelSignature, data: Any) -> Any:
    """Check prediction input against a signature and return it cast to the expected dtypes.

    Missing columns and unsafe dtypes raise InvalidParameterValue; safe numeric upcasts (int to
    float, float32 to float64) are applied; extra columns are dropped with a UserWarning; the
    columns come back in the signature's order. ndarray signatures check column count and dtype.
    """
    if signature.input_kind == NDARRAY:
        return _enforce_ndarray(signature, data)
    return _enforce_dataframe(signature, data)


def _output_kind(model: object) -> str:
    """What a model predicts, as far as scikit-learn can tell."""
    if model is None:
        return UNKNOWN
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        return CLASSIFICATION
    if is_regressor(model):
        return REGRESSION
    return UNKNOWN


def _enforce_dataframe(signature: ModelSignature, data: Any) -> pd.DataFrame:
    """Select, order and cast the signature's columns from a DataFrame (or records/dict)."""
    import pandas as pd

    frame = data if isinstance(data, pd.DataFrame) else _as_frame(data)
    _refuse_duplicates(list(frame.columns))
    expected = signature.column_names
    missing = [name for name in expected if name not in frame.columns]
    if missing:
        raise InvalidParameterValue(
            f"Input is missing column(s) {', '.join(missing)} required by the model signature."
        )
    extra = [str(name) for name in frame.columns if name not in expected]
    if extra:
        warnings.warn(
            f"Dropping column(s) not in the model signature: {', '.join(extra)}.",
            UserWarning,
            stacklevel=3,
        )
    problems: list[str] = []
    columns: dict[str, pd.Series] = {}
    for spec in signature.inputs:
        column = frame[spec.name]
        cast = _cast_column(column, spec.dtype)
        if cast is None:
            problems.append(f"column {spec.name!r} expects {spec.dtype} but got {column.dtype}")
        else:
            columns[spec.name] = cast
    if problems:
        raise InvalidParameterValue(
            f"Input does not match the model signature: {'; '.join(problems)}."
        )
    return pd.DataFrame(columns, index=frame.index)


def _enforce_ndarray(signature: ModelSignature, data: Any) -> np.ndarray:
    """Check a 2-D array's column count and dtype against an ndarray signature."""
    import numpy as np

    array = np.asarray(data)
    _require_2d(array)
    if array.shape[1] != len(signature.inputs):
        raise InvalidParameterValue(
            f"Input has {array.shape[1]} column(s) but the model signature expects "
            f"{len(signature.inputs)}."
        )
    expected = signature.inputs[0].dtype if signature.inputs else str(array.dtype)
    if not _is_safe_cast(array.dtype, _parse_dtype(expected)):
        raise InvalidParameterValue(
            f"Input array has dtype {array.dtype} but the model signature expects {expected}."
        )
    return array.astype(expected, copy=False)


def _as_frame(data: Any) -> pd.DataFrame:
    """Turn a dict of columns or a list of records into a DataFrame; refuse anything else."""
    if isinstance(data, dict | list):
        import pandas as pd

        return pd.DataFrame(data)
    raise InvalidParameterValue(
        "The model signature expects a pandas DataFrame (or a dict of columns, or a list of "
        f"records), got {type(data).__name__}."
    )


def _cast_column(column: pd.Series, expected: str) -> pd.Series | None:
    """The column cast to `expected` when that is safe, else None."""
    if str(column.dtype) == expected:
        return column
    from pandas.api.types import infer_dtype

    target = _parse_dtype(expected)
    if not _is_safe_cast(column.dtype, target):
        return None
    if column.dtype == object and infer_dtype(column, skipna=True) not in ("string", "empty"):
        return None
    try:
        return column.astype(target)
    except (TypeError, ValueError):
        return None


def _is_safe_cast(actual: Any, expected: Any) -> bool:
    """True for string-to-string dtypes, safe numeric upcasts and same-kind datetimes."""
    import numpy as np
    from pandas.api.types import is_string_dtype

    if actual == expected:
        return True
    if is_string_dtype(actual) and is_string_dtype(expected):
        return True
    actual_np = _numpy_dtype(actual)
    expected_np = _numpy_dtype(expected)
    if actual_np is None or expected_np is None:
        return False
    if actual_np.kind in _NUMERIC_KINDS and expected_np.kind in _NUMERIC_KINDS:
        return bool(np.can_cast(actual_np, expected_np, casting="safe"))
    return actual_np.kind == expected_np.kind and actual_np.kind in "mM"


def _parse_dtype(name: str) -> Any:
    """The numpy or pandas dtype a signature names, refusing names that are not dtypes."""
    from pandas.api.types import pandas_dtype

    try:
        return pandas_dtype(name)
    except TypeError as exc:
        raise InvalidParameterValue(f"Model signature names an unknown dtype {name!r}.") from exc


def _numpy_dtype(dtype: Any) -> np.dtype | None:
    """The numpy dtype behind a numpy or nullable-numeric pandas dtype, else None."""
    import numpy as np

    if isinstance(dtype, np.dtype):
        return dtype
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    return numpy_dtype if isinstance(numpy_dtype, np.dtype) else None


def _require_2d(array: np.ndarray) -> None:
    """Refuse arrays that are not a table of rows and columns."""
    if array.ndim != 2:
        raise InvalidParameterValue(
            f"Array input must be 2-D (rows x columns), got shape {array.shape}."
        )


def _refuse_duplicates(names: list[Any]) -> None:
    """Refuse repeated column names, which make column selection ambiguous."""
    duplicates = sorted({str(name) for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidParameterValue(f"Duplicate column name(s): {', '.join(duplicates)}.")
