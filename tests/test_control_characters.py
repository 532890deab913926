"""One rule for characters in names, keys, aliases and free text, applied by the store."""

from __future__ import annotations

import pytest

from registry_core.client import RegistryClient
from registry_core.entities import Metric
from registry_core.errors import INVALID_PARAMETER_VALUE
from tests.conftest import error_code

# ESC (terminal colours), newline (a second row), NUL, C1's NEL, a line separator, and the
# bidirectional override, isolate and mark that make text show in another order.
UNSAFE_IN_NAMES = ["\x1b[31mred", "a\nb", "a\x00b", "a\tb", "a\x85b", "a\u2028b", "\u202eevil"]
UNSAFE_IN_NAMES += ["a\u2066b", "a\u200fb", "a\x7fb"]
UNSAFE_IN_TEXT = ["\x1b[2J", "a\x00b", "a\x85b", "a\x7fb", "a\x08b"]
FINE_IN_TEXT = ["two\nlines\r\n", "tab\tseparated", "\u202bRTL text\u202c", "naïve ünïcode"]


@pytest.fixture
def model(client: RegistryClient) -> str:
    client.create_registered_model("m")
    client.create_model_version("m", "runs:/r1/model")
    return "m"


def refused(call) -> None:
    assert error_code(call) == INVALID_PARAMETER_VALUE


@pytest.mark.parametrize("bad", UNSAFE_IN_NAMES, ids=repr)
def test_names_keys_and_aliases_refuse_control_and_bidi_characters(
    client: RegistryClient, model: str, bad: str
) -> None:
    run = client.create_run("r").run_id
    refused(lambda: client.create_registered_model(bad))
    refused(lambda: client.rename_registered_model(model, bad))
    refused(lambda: client.set_registered_model_tag(model, bad, "v"))
    refused(lambda: client.set_model_version_tag(model, 1, bad, "v"))
    refused(lambda: client.set_registered_model_alias(model, bad, 1))
    refused(lambda: client.set_tag(run, bad, "v"))
    refused(lambda: client.log_param(run, bad, "v"))
    refused(lambda: client.log_batch(run, [Metric(bad, 1.0, 0, 1)]))
    refused(lambda: client.create_run(bad))
    refused(lambda: client.create_model_version(model, f"runs:/{run}/{bad}"))
    refused(lambda: client.transition_model_version_stage(model, 1, "Staging", actor=bad))
    assert client.get_model_version(model, 1).current_stage == "None"


@pytest.mark.parametrize("alias", ["champion\n", "latest\n", "v1\n"], ids=repr)
def test_a_trailing_newline_makes_no_alias(client: RegistryClient, model: str, alias: str) -> None:
    refused(lambda: client.set_registered_model_alias(model, alias, 1))
    assert client.get_registered_model(model).aliases == {}


@pytest.mark.parametrize("bad", UNSAFE_IN_TEXT, ids=repr)
def test_free_text_refuses_control_characters(client: RegistryClient, model: str, bad: str) -> None:
    run = client.create_run("r").run_id
    refused(lambda: client.set_registered_model_tag(model, "k", bad))
    refused(lambda: client.set_model_version_tag(model, 1, "k", bad))
    refused(lambda: client.set_tag(run, "k", bad))
    refused(lambda: client.log_param(run, "p", bad))
    refused(lambda: client.update_registered_model(model, bad))
    refused(lambda: client.update_model_version(model, 1, bad))
    refused(lambda: client.transition_model_version_stage(model, 1, "Staging", reason=bad))
    assert client.get_registered_model(model).tags == {}


@pytest.mark.parametrize("fine", FINE_IN_TEXT, ids=repr)
def test_free_text_keeps_newlines_tabs_and_right_to_left_text(
    client: RegistryClient, model: str, fine: str
) -> None:
    client.set_registered_model_tag(model, "k", fine)
    client.update_registered_model(model, fine)
    shown = client.get_registered_model(model)
    assert (shown.tags["k"], shown.description) == (fine, fine)


def test_the_message_names_the_character_without_printing_it(client: RegistryClient) -> None:
    with pytest.raises(Exception) as caught:
        client.create_registered_model("\x1b[31mred")
    assert "\x1b" not in str(caught.value) and "'\\x1b' at position 0" in str(caught.value)
