"""The UI in a real headless Chromium (Debian's, driven through Playwright) against a real server
with auth on: reading, filtering, comparing, promoting as a promoter, and a reader's refusals."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry_core.client import RegistryClient
from tests.server_harness import running_server
from tests.ui.seed import CHURN, Seeded

SCREENSHOTS_ENV = "UI_SCREENSHOTS"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def new_page(chromium: Any, server: str) -> Iterator[Any]:
    """Opens pages in fresh browser contexts (no cookies shared between them)."""
    contexts = []

    def open_page(*, javascript: bool = True, url: str = server) -> Any:
        context = chromium.new_context(
            base_url=url, java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def signed_in(page: Any, secret: str, path: str = "/") -> Any:
    """Open `path`, sign in on the page it redirects to, and land back on `path`."""
    page.goto(path)
    assert "/login" in page.url
    page.fill("input[name=token]", secret)
    page.click("main form button")
    page.wait_for_url(f"**{path}")
    return page


def test_open_filter_and_read_a_model_and_a_version(new_page: Any, seeded: Seeded) -> None:
    page = signed_in(new_page(), seeded.tokens["reader"])
    rows = page.locator("[data-testid=models] tbody tr")
    assert rows.count() == 3
    page.fill("input[name=q]", "tags.team = 'quality'")
    page.click("form.search button")
    page.wait_for_url("**q=tags.team*")
    assert rows.count() == 1 and "wine-quality" in rows.inner_text()
    page.fill("input[name=q]", "churn")
    page.click("form.search button")
    page.wait_for_url("**q=churn*")
    page.click(f"a.model-name:text('{CHURN}')")
    page.wait_for_url(f"**/models/{CHURN}")
    assert page.inner_text("h1") == CHURN
    assert page.locator("svg.plot").count() == 3
    versions = page.locator("[data-testid=versions] tbody tr")
    assert versions.count() == 5
    assert "failed" in versions.nth(4).inner_text()
    versions.nth(1).locator("a", has_text="v4").click()
    page.wait_for_url(f"**/models/{CHURN}/versions/4")
    assert "v4" in page.inner_text("h1") and "Production" in page.inner_text("h1")
    uris = [field.input_value() for field in page.locator("input.uri").all()]
    assert f"models:/{CHURN}/4" in uris and f"models:/{CHURN}@champion" in uris
    assert f"models:/{CHURN}/Production" in uris
    assert page.locator("button.copy").first.is_visible()
    assert "accuracy" in page.inner_text("[data-testid=metrics]")
    assert "churn_predictor/trained_model" in page.inner_text("[data-testid=run]")
    assert page.locator("form.action").count() == 0


def test_compare_two_versions(new_page: Any, seeded: Seeded) -> None:
    page = signed_in(new_page(), seeded.tokens["reader"], f"/models/{CHURN}")
    page.check("input[name=v][value='2']")
    page.check("input[name=v][value='4']")
    page.click("button:text('Compare selected')")
    page.wait_for_url("**/compare?v=4&v=2")
    table = page.locator("[data-testid=compare]")
    assert "v4" in table.locator("thead").inner_text()
    accuracy = table.locator("tr", has_text="accuracy")
    assert "worse" in accuracy.locator("td.worse").inner_text()
    assert "C" in table.locator("td.changed").first.locator("xpath=..").inner_text()


def test_a_promoter_promotes_a_version_and_sees_the_history_row(
    new_page: Any, seeded: Seeded, server: str
) -> None:
    path = f"/models/{CHURN}/versions/3"
    page = signed_in(new_page(), seeded.tokens["promoter"], path)
    assert "promoter · promoter" in page.inner_text("[data-testid=principal]")
    form = page.locator("[data-testid=transition]")
    form.locator("select[name=stage]").select_option("Production")
    form.locator("input[name=archive_existing_versions]").check()
    form.locator("input[name=reason]").fill("beats v4 on the holdout")
    form.locator("button").click()
    assert "to Production?" in page.inner_text("h1")
    page.click("button:text('Confirm')")
    page.wait_for_url(f"**{path}")
    assert "Moved churn-predictor version 3 to Production." in page.inner_text(".flash")
    assert "Production" in page.inner_text("h1")
    page.click("a:text('history')")
    first = page.locator("[data-testid=history] tbody tr").first
    assert "promoter" in first.locator(".actor").inner_text()
    assert first.locator("td").nth(2).inner_text() == "v3"
    assert first.locator(".change").inner_text() == "Staging -> Production"
    assert "beats v4 on the holdout" in first.inner_text()
    page.goto(f"/models/{CHURN}/history")
    archived = page.locator("[data-testid=history] tbody tr", has_text="Production -> Archived")
    assert archived.first.locator("td").nth(2).inner_text() == "v4"
    assert archived.first.locator(".actor").inner_text() == "promoter"
    client = RegistryClient(server, token=seeded.tokens["admin"])
    assert client.get_model_version(CHURN, 3).current_stage == "Production"
    client.close()


def test_a_reader_sees_no_action_and_a_hand_made_post_is_refused(
    new_page: Any, seeded: Seeded, server: str
) -> None:
    path = f"/models/{CHURN}/versions/3"
    page = signed_in(new_page(), seeded.tokens["reader"], path)
    for where in ("/", f"/models/{CHURN}", path, f"/models/{CHURN}/history"):
        page.goto(where)
        assert page.locator("form.action").count() == 0, where
        assert page.locator("button", has_text="Move").count() == 0
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    action = f"{server}{path}/stage"
    page.evaluate(
        """([action, csrf]) => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = action;
            for (const [name, value] of [["csrf_token", csrf], ["stage", "Production"],
                                         ["confirm", "yes"]]) {
                const field = document.createElement("input");
                field.type = "hidden"; field.name = name; field.value = value;
                form.appendChild(field);
            }
            document.body.appendChild(form);
            form.submit();
        }""",
        [action, csrf],
    )
    page.wait_for_url(f"**{path}/stage")
    assert "PERMISSION_DENIED" in page.inner_text(".problem")
    assert "reader" in page.inner_text(".problem")
    forged = page.request.post(action, form={"stage": "Staging", "confirm": "yes"})
    assert forged.status == 403 and "CSRF" in forged.text()
    wrong = page.request.post(action, form={"stage": "None", "csrf_token": csrf[::-1]})
    assert wrong.status == 403
    client = RegistryClient(server, token=seeded.tokens["admin"])
    assert client.get_model_version(CHURN, 3).current_stage == "Staging"
    client.close()


def test_every_page_works_without_javascript_and_nothing_is_fetched_elsewhere(
    new_page: Any, seeded: Seeded, server: str
) -> None:
    page = new_page(javascript=False)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    path = f"/models/{CHURN}/versions/5"
    signed_in(page, seeded.tokens["promoter"], path)
    assert page.locator("button.copy").first.is_hidden()
    page.locator("[data-testid=transition] select").select_option("Production")
    page.locator("[data-testid=transition] button").click()
    page.click("button:text('Confirm')")
    page.wait_for_url(f"**{path}")
    assert "Production" in page.inner_text("h1")
    for where in ("/", f"/models/{CHURN}", f"/models/{CHURN}/compare?v=4&v=5"):
        page.goto(where)
        assert page.locator("h1").count() == 1
    page.goto(f"/models/{CHURN}/history?holder=Production&at=4102444800000")
    assert "v5" in page.inner_text("[data-testid=holder]")
    assert requested and all(url.startswith(server) for url in requested)


def test_screenshots_of_the_main_pages(
    chromium: Any, seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Takes the README's screenshots: `UI_SCREENSHOTS=docs/ui pytest -k screenshots`."""
    out = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("DAGSTER_UI_URL", "http://127.0.0.1:3000")
    with running_server(seeded.path, auth=True) as url:
        context = chromium.new_context(base_url=url, viewport={"width": 1280, "height": 800})
        page = signed_in(context.new_page(), seeded.tokens["promoter"])
        shots = {
            "models": "/",
            "model": f"/models/{CHURN}",
            "version": f"/models/{CHURN}/versions/4",
            "compare": f"/models/{CHURN}/compare?v=2&v=4&v=5",
            "history": f"/models/{CHURN}/history?holder=Production&at=2100-01-01+00:00",
        }
        for name, path in shots.items():
            page.goto(path)
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        context.close()
    for name in shots:
        assert (out / f"{name}.png").read_bytes()[:8] == PNG
