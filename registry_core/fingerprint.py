"""Training-data fingerprints: a content hash plus schema, to tell which data a version saw.

NumPy and pandas are imported only to compute a fingerprint, never to read a stored one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry_core.errors import InvalidParameterValue

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class DataFingerprint:
    """The sha256 of a dataset's content and schema, its row count and its (name, dtype) schema."""

    sha256: str
    row_count: int
    schema: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict, the form stored in the registry database."""
        return {
            "sha256": self.sha256,
            "row_count": self.row_count,
            "schema": [[name, dtype] for name, dtype in self.schema],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataFingerprint:
        """Rebuild a fingerprint from `to_dict()` output, refusing malformed input."""
        try:
            schema = tuple((str(name), str(dtype)) for name, dtype in data["schema"])
            return cls(sha256=str(data["sha256"]), row_count=int(data["row_count"]), schema=schema)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameterValue(f"Malformed data fingerprint {data!r}: {exc}") from exc


def fingerprint_data(data: Any) -> DataFingerprint:
    """Fingerprint a DataFrame, Series or array; changed values, names, dtypes or order show."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        return _fingerprint_frame(data)
    if isinstance(data, np.ndarray):
        return _fingerprint_array(data)
    raise InvalidParameterValue(
        "Data fingerprints support pandas DataFrames and Series and numpy arrays, "
        f"got {type(data).__name__}."
    )


def _fingerprint_frame(frame: pd.DataFrame) -> DataFingerprint:
    """Hash the schema, then the per-row hashes (index included) in row order."""
    import pandas as pd

    schema = tuple((str(name), str(dtype)) for name, dtype in frame.dtypes.items())
    row_hashes = pd.util.hash_pandas_object(frame, index=True).to_numpy().astype("<u8")
    digest = hashlib.sha256(b"pandas.DataFrame\0")
    digest.update(json.dumps(schema).encode())
    digest.update(row_hashes.tobytes())
    return DataFingerprint(digest.hexdigest(), len(frame), schema)


def _fingerprint_array(array: np.ndarray) -> DataFingerprint:
    """Hash dtype, shape and bytes (object arrays by value); columns are named by position."""
    import numpy as np
    import pandas as pd

    if array.ndim == 0:
        raise InvalidParameterValue("Cannot fingerprint a 0-d array: it has no rows.")
    columns = array.shape[1] if array.ndim >= 2 else 1
    schema = tuple((str(i), str(array.dtype)) for i in range(columns))
    if array.dtype == object:
        content = pd.util.hash_array(array.ravel()).astype("<u8").tobytes()
    else:
        content = np.ascontiguousarray(array).tobytes()
    digest = hashlib.sha256(b"numpy.ndarray\0")
    digest.update(json.dumps([array.dtype.str, list(array.shape)]).encode())
    digest.update(content)
    return DataFingerprint(digest.hexdigest(), int(array.shape[0]), schema)
