"""A registered model loaded for inference: the raw model behind its signature check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry_core.errors import InvalidParameterValue
from registry_core.signature import ModelSignature, enforce_signature


@dataclass(frozen=True)
class ModelInfo:
    """Where a loaded model came from: its URI, registered name and version, digest and format."""

    uri: str
    name: str
    version: str
    sha256: str
    format: str


class LoadedModel:
    """Wraps a deserialised model so every prediction goes through its signature first."""

    def __init__(
        self, raw_model: object, signature: ModelSignature | None, info: ModelInfo
    ) -> None:
        if not callable(getattr(raw_model, "predict", None)):
            raise InvalidParameterValue(
                f"Model {info.name!r} version {info.version} has no predict method "
                f"({type(raw_model).__name__})."
            )
        self._raw_model = raw_model
        self._signature = signature
        self._info = info

    @property
    def raw_model(self) -> Any:
        """The deserialised model itself, for anything the wrapper does not expose."""
        return self._raw_model

    @property
    def signature(self) -> ModelSignature | None:
        """The signature enforced on inputs, or None when the version recorded none."""
        return self._signature

    @property
    def info(self) -> ModelInfo:
        """Where this model came from."""
        return self._info

    @property
    def supports_predict_proba(self) -> bool:
        """True when the raw model can return class probabilities."""
        return callable(getattr(self._raw_model, "predict_proba", None))

    def predict(self, data: Any) -> Any:
        """Predict on `data` after checking and casting it against the signature."""
        return self._raw_model.predict(self._prepare(data))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities for `data`, for models that provide them."""
        if not self.supports_predict_proba:
            raise InvalidParameterValue(
                f"Model {self._info.name!r} version {self._info.version} "
                f"({type(self._raw_model).__name__}) does not support predict_proba."
            )
        return self._raw_model.predict_proba(self._prepare(data))

    def _prepare(self, data: Any) -> Any:
        """The input as the model expects it, or unchanged when there is no signature."""
        return data if self._signature is None else enforce_signature(self._signature, data)

    def __repr__(self) -> str:
        signature = (
            "none"
            if self._signature is None
            else f"{len(self._signature.inputs)} {self._signature.input_kind} input(s) -> "
            f"{self._signature.output_kind}"
        )
        return (
            f"LoadedModel(name={self._info.name!r}, version={self._info.version}, "
            f"model={type(self._raw_model).__name__}, format={self._info.format}, "
            f"sha256={self._info.sha256[:12]}, signature={signature})"
        )
