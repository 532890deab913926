"""Errors that say what is wrong with the value given, not something else."""

from __future__ import annotations

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import INVALID_PARAMETER_VALUE, RegistryError
from registry_core.validation import MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH


def message(call) -> str:
    with pytest.raises(RegistryError) as caught:
        call()
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    return caught.value.message


@pytest.mark.parametrize("source", [5, None, b"runs:/r/model", ["runs:/r/model"]], ids=repr)
def test_a_source_that_is_not_a_string_is_called_so(
    client: RegistryClient, backend: str, source
) -> None:
    client.create_registered_model("m1")
    said = message(lambda: client.create_model_version("m1", source=source))
    assert "empty" not in said
    if backend == "embedded":
        assert f"it is not a string but {type(source).__name__}" in said
    else:
        # The server's request schema refuses it before the store sees it, naming the field.
        assert said.startswith("Invalid request: source: ")


def test_params_and_metrics_are_named_as_such(client: RegistryClient) -> None:
    run = client.create_run("r").run_id
    too_long = "x" * (MAX_TAG_VALUE_LENGTH + 1)
    assert message(lambda: client.log_param(run, "p", too_long)).startswith("Value of param 'p'")
    assert message(lambda: client.log_param(run, "k" * 300, "v")).startswith("Param key ")
    assert message(lambda: client.log_metric(run, "k" * (MAX_TAG_KEY_LENGTH + 1), 1.0)).startswith(
        "Metric key "
    )
    assert message(lambda: client.set_tag(run, "t", too_long)).startswith("Value of tag 't'")
