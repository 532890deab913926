"""A seeded registry behind a real server with auth on, signed-in HTTP clients per role, and a
real headless Chromium (Debian's) driven through Playwright."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry_core.client import RegistryClient
from tests.server_harness import running_server
from tests.ui.seed import Seeded, build

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return build(tmp_path_factory.mktemp("ui-template") / "registry")


@pytest.fixture
def seeded(template: Seeded, tmp_path: Path) -> Iterator[Seeded]:
    """A fresh copy of the seeded registry (its tokens stay valid: the copy keeps their hashes)."""
    path = tmp_path / "registry"
    shutil.copytree(template.path, path)
    yield Seeded(path, template.tokens)
    RegistryClient(path).close()


@pytest.fixture
def server(seeded: Seeded) -> Iterator[str]:
    """The URL of a registry server with auth on over the seeded registry."""
    with running_server(seeded.path, auth=True) as url:
        yield url


def sign_in(url: str, secret: str) -> httpx.Client:
    """An HTTP client signed in to the UI with a token, as a browser would: the sign-in page's
    CSRF token, then the form."""
    browser = httpx.Client(base_url=url)
    page = browser.get("/login")
    done = browser.post(
        "/login", data={"csrf_token": csrf_of(page.text), "token": secret, "next": "/"}
    )
    assert done.status_code == 303, done.text
    return browser


@pytest.fixture
def as_role(server: str, seeded: Seeded) -> Iterator[dict[str, httpx.Client]]:
    """A signed-in client per role, by role name."""
    clients = {role: sign_in(server, secret) for role, secret in seeded.tokens.items()}
    yield clients
    for opened in clients.values():
        opened.close()


def chromium_path() -> str | None:
    """Debian's chromium, if installed."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Headless Chromium; the browser tests skip without it locally, and fail without it in CI."""
    executable = chromium_path()
    if executable is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser tests.")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
