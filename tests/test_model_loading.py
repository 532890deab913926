"""Loading by URI: checksums, trust, signatures, caching, and source validation."""

from __future__ import annotations

import operator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import registry_core as rc
from registry_core.config import resolve_location
from registry_core.errors import (
    DATA_LOSS,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    RegistryError,
)
from registry_core.loading import clear_cache
from tests.conftest import stored_file


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {"age": rng.integers(18, 80, 200).astype("int64"), "spend": rng.uniform(0, 100, 200)}
    )


@pytest.fixture
def client(registry_uri: str) -> rc.RegistryClient:
    clear_cache()
    rc.set_registry_uri(registry_uri)
    yield rc.RegistryClient()
    rc.set_registry_uri(None)


@pytest.fixture
def artifact_root(registry_path: Path) -> Path:
    return resolve_location(registry_path).artifact_root


def register(client: rc.RegistryClient, model, example, name: str = "m", **kwargs) -> str:
    run = client.create_run("r")
    client.log_model_artifact(run.run_id, model, "model", input_example=example, **kwargs)
    rc.register_model(f"runs:/{run.run_id}/model", name)
    return run.run_id


def fitted(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(frame, (frame.spend > 50).astype(int))


def test_tampered_artifact_is_refused(
    client: rc.RegistryClient, registry_path: Path, frame: pd.DataFrame
) -> None:
    register(client, fitted(frame), frame[:5])
    mv = client.get_model_version("m", 1)
    path = stored_file(registry_path, mv.artifact_sha256)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="checksum mismatch") as caught:
        rc.load_model("models:/m/1")
    assert caught.value.error_code == DATA_LOSS


def test_missing_artifact_fails_clearly(
    client: rc.RegistryClient, registry_path: Path, frame: pd.DataFrame
) -> None:
    register(client, fitted(frame), frame[:5])
    stored_file(registry_path, client.get_model_version("m", 1).artifact_sha256).unlink()
    with pytest.raises(RegistryError, match="missing") as caught:
        rc.load_model("models:/m/1")
    assert caught.value.error_code == DATA_LOSS


def test_untrusted_skops_type_is_refused(client: rc.RegistryClient, frame: pd.DataFrame) -> None:
    model = make_pipeline(FunctionTransformer(operator.neg), fitted(frame))
    model.fit(frame, (frame.spend > 50).astype(int))
    register(client, model, frame[:5])
    with pytest.raises(RegistryError, match=r"untrusted types _operator\.neg") as caught:
        rc.load_model("models:/m/1")
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    loaded = rc.load_model("models:/m/1", trusted_types=["_operator.neg"])
    assert loaded.predict(frame).shape == (200,)


def test_pickle_needs_explicit_opt_in(client: rc.RegistryClient, frame: pd.DataFrame) -> None:
    model = fitted(frame)
    register(client, model, frame[:5], format="pickle")
    assert client.get_model_version("m", 1).artifact_format == "pickle"
    with pytest.raises(RegistryError, match="allow_pickle"):
        rc.load_model("models:/m/1")
    loaded = rc.load_model("models:/m/1", allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_predict_checks_the_signature(client: rc.RegistryClient, frame: pd.DataFrame) -> None:
    model = fitted(frame)
    register(client, model, frame[:5])
    loaded = rc.load_model("models:/m/1")
    with pytest.raises(RegistryError, match="spend"):
        loaded.predict(frame[["age"]])
    with pytest.raises(RegistryError, match="age"):
        loaded.predict(frame.assign(age=frame.age.astype(str)))
    with pytest.warns(UserWarning, match="extra"):
        out = loaded.predict(frame.assign(extra=1.0)[["extra", "spend", "age"]])
    np.testing.assert_array_equal(out, model.predict(frame))
    assert isinstance(rc.load_model("models:/m/1", raw=True), LogisticRegression)


def test_loaded_models_are_cached_per_digest(
    client: rc.RegistryClient, frame: pd.DataFrame
) -> None:
    register(client, fitted(frame), frame[:5])
    first = rc.load_model("models:/m/1", raw=True)
    client.set_registered_model_alias("m", "champion", 1)
    assert rc.load_model("models:/m@champion", raw=True) is first


@pytest.mark.parametrize(
    "source",
    [
        "../outside/model",
        "%2e%2e/%2e%2e/etc/passwd",
        "/etc/passwd",
        "runs:/abc/../../etc",
        "file:///etc/passwd",
        "s3://bucket/model",
    ],
)
def test_traversal_in_source_refused(client: rc.RegistryClient, source: str) -> None:
    client.create_registered_model("m")
    with pytest.raises(RegistryError) as caught:
        client.create_model_version("m", source)
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    assert client.search_model_versions("name = 'm'") == []


def test_symlink_leading_out_is_refused(
    client: rc.RegistryClient, artifact_root: Path, tmp_path: Path
) -> None:
    client.create_registered_model("m")
    artifact_root.mkdir(parents=True, exist_ok=True)
    (artifact_root / "escape").symlink_to(tmp_path)
    with pytest.raises(RegistryError) as caught:
        client.create_model_version("m", str(artifact_root / "escape" / "model"))
    assert caught.value.error_code == INVALID_PARAMETER_VALUE


def test_source_inside_the_store_links_its_artifact(
    client: rc.RegistryClient, registry_path: Path, frame: pd.DataFrame
) -> None:
    from registry_core import formats

    ref = client.artifacts.put_bytes(formats.dump_model(fitted(frame)))
    client.create_registered_model("m")
    by_uri = client.create_model_version("m", ref.uri)
    by_path = client.create_model_version("m", str(stored_file(registry_path, ref.sha256)))
    assert by_uri.artifact_sha256 == by_path.artifact_sha256 == ref.sha256
    assert by_uri.artifact_format == "skops"
    assert rc.load_model("models:/m/2", raw=True).predict(frame).shape == (200,)
    with pytest.raises(RegistryError) as caught:
        client.create_model_version("m", "artifacts:/" + "0" * 64)
    assert caught.value.error_code == RESOURCE_DOES_NOT_EXIST


def test_copy_model_version(client: rc.RegistryClient, frame: pd.DataFrame) -> None:
    run_id = register(client, fitted(frame), frame[:5])
    copy = client.copy_model_version("models:/m/1", "m-prod")
    assert (copy.name, copy.version, copy.run_id) == ("m-prod", "1", run_id)
    assert copy.source == "models:/m/1"
    assert copy.artifact_sha256 == client.get_model_version("m", 1).artifact_sha256


def test_bad_uris(client: rc.RegistryClient) -> None:
    for uri in ("models:/m", "models:/m/Prod", "models:/m/1@a", "runs:/abc", "s3://x", "m/1"):
        with pytest.raises(RegistryError) as caught:
            rc.load_model(uri)
        assert caught.value.error_code == INVALID_PARAMETER_VALUE, uri


def test_load_through_a_held_client_shares_its_file(
    registry_path: Path, embedded_client: rc.RegistryClient, frame: pd.DataFrame
) -> None:
    """Loading through a client that holds the file in a session resolves on its connection,
    whatever its settings (a client with other settings keeps a connection of its own)."""
    rc.set_registry_uri(registry_path)
    try:
        register(embedded_client, fitted(frame), frame[:5])
    finally:
        rc.set_registry_uri(None)
    own = rc.RegistryClient(registry_path, idle_timeout=5, lock_timeout=1)
    with own.session():
        opens = own._store.manager.opens
        model = rc.load_model("models:/m/1", client=own)
        assert own._store.manager.opens == opens
    assert model.predict(frame[:3]).shape == (3,)
