"""`load_model(uri)`: resolve a model URI, verify the artifact's sha256, deserialize it with the
loader's trust rules, and wrap it so `predict` checks its input against the signature."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from registry_core import formats
from registry_core.client import RegistryClient
from registry_core.loaded_model import LoadedModel, ModelInfo
from registry_core.signature import ModelSignature

_CACHE_SIZE = 32
_cache: OrderedDict[tuple[str, bool, frozenset[str]], Any] = OrderedDict()
_cache_lock = threading.Lock()


def load_model(
    model_uri: str,
    *,
    raw: bool = False,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] = (),
    registry_uri: str | os.PathLike[str] | None = None,
    client: RegistryClient | None = None,
) -> Any:
    """Load `models:/NAME/VERSION|STAGE|latest`, `models:/NAME@ALIAS` or `runs:/ID/PATH`.

    Returns a `LoadedModel` whose `predict` enforces the signature, or the bare estimator when
    `raw=True`. Models are cached per sha256 (and trust settings) within the process. Pass the
    `client` you already hold to resolve through its connection and lock settings.
    """
    client = client or RegistryClient(registry_uri)
    resolved = client.resolve_model_uri(model_uri)
    trusted = frozenset(trusted_types)
    key = (resolved.sha256, allow_pickle, trusted)
    with _cache_lock:
        model = _cache.get(key)
        if model is not None:
            _cache.move_to_end(key)
    if model is None:
        data = client.artifacts.read_verified(resolved.sha256)
        model = formats.load_model_bytes(
            data, resolved.format, trusted_types=trusted, allow_pickle=allow_pickle
        )
        with _cache_lock:
            _cache[key] = model
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    if raw:
        return model
    mv = resolved.model_version
    info = ModelInfo(
        uri=model_uri,
        name=mv.name if mv else "",
        version=mv.version if mv else "",
        sha256=resolved.sha256,
        format=resolved.format,
    )
    signature = ModelSignature.from_dict(resolved.signature) if resolved.signature else None
    return LoadedModel(model, signature, info)


def clear_cache() -> None:
    """Forget every loaded model (the next load reads and verifies the file again)."""
    with _cache_lock:
        _cache.clear()
