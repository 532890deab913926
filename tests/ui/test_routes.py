"""The UI's routes over HTTP against a real server: sign-in and sessions, status codes, CSRF,
and the API's role rules on every form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from registry_core.client import RegistryClient
from tests.server_harness import running_server
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.seed import CHURN, WINE, Seeded

VERSION_3 = f"/models/{CHURN}/versions/3"
VERSION_4 = f"/models/{CHURN}/versions/4"
PAGES = (
    "/",
    f"/models/{CHURN}",
    VERSION_4,
    f"/models/{CHURN}/compare?v=2&v=4",
    f"/models/{CHURN}/history",
)


@contextmanager
def admin(url: str, seeded: Seeded) -> Iterator[RegistryClient]:
    """The registry through the server with the admin's token, to see what a form changed."""
    client = RegistryClient(url, token=seeded.tokens["admin"])
    try:
        yield client
    finally:
        client.close()


def words(html: str) -> str:
    return " ".join(html.split())


def post_form(browser: httpx.Client, page: str, action: str, **fields: str) -> httpx.Response:
    """Submit a form as the page's own: with the CSRF token the page carries."""
    token = csrf_of(browser.get(page).text)
    return browser.post(action, data={"csrf_token": token, **fields})


def test_pages_need_a_session_but_static_files_do_not(server: str) -> None:
    with httpx.Client(base_url=server) as anonymous:
        for path in PAGES:
            answer = anonymous.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/login?next=%2F")
        assert anonymous.get("/static/ui.css").status_code == 200
        assert anonymous.get("/static/ui.js").status_code == 200
        assert anonymous.get("/login").status_code == 200
        assert anonymous.get("/health").json() == {"status": "ok"}


def test_sign_in_sets_a_fresh_http_only_same_site_cookie(server: str, seeded: Seeded) -> None:
    with httpx.Client(base_url=server) as browser:
        login = browser.get("/login?next=/models/churn-predictor")
        before = browser.cookies["registry_session"]
        wrong = browser.post(
            "/login", data={"csrf_token": csrf_of(login.text), "token": "mr_nope", "next": "/"}
        )
        assert wrong.status_code == 401
        assert "not valid" in wrong.text
        done = browser.post(
            "/login",
            data={
                "csrf_token": csrf_of(login.text),
                "token": seeded.tokens["reader"],
                "next": "/models/churn-predictor",
            },
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/models/churn-predictor"
        cookie = done.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert seeded.tokens["reader"] not in done.headers["set-cookie"]
        after = browser.cookies["registry_session"]
        assert after != before
        page = browser.get("/")
        assert page.status_code == 200
        assert "reader · reader" in page.text
    with httpx.Client(base_url=server, cookies={"registry_session": before}) as stale:
        assert stale.get("/").status_code == 303


def test_sign_in_never_redirects_off_site(server: str, seeded: Seeded) -> None:
    with httpx.Client(base_url=server) as browser:
        login = browser.get("/login")
        done = browser.post(
            "/login",
            data={
                "csrf_token": csrf_of(login.text),
                "token": seeded.tokens["reader"],
                "next": "//evil.example/",
            },
        )
        assert done.headers["location"] == "/"


def test_every_page_renders_for_a_reader_with_safe_headers(
    as_role: dict[str, httpx.Client],
) -> None:
    reader = as_role["reader"]
    for path in PAGES:
        answer = reader.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/html")
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["server-timing"].startswith("app;dur=")
        assert not re.search(r'(src|href)="(https?:)?//', answer.text), path


def test_bad_requests_answer_with_their_status(as_role: dict[str, httpx.Client]) -> None:
    reader = as_role["reader"]
    assert reader.get("/models/nope").status_code == 404
    assert reader.get("/models/churn-predictor/versions/99").status_code == 404
    assert reader.get("/models/churn-predictor/versions/x").status_code == 400
    assert reader.get("/?q=name%20%3D").status_code == 400
    assert reader.get("/?order=sideways").status_code == 400
    assert reader.get("/?page_token=garbage").status_code == 400
    assert reader.get(f"/models/{CHURN}/compare?v=2").status_code == 400
    six = "&".join(f"v={v}" for v in range(1, 7))
    assert reader.get(f"/models/{CHURN}/compare?{six}").status_code == 400
    assert reader.get(f"/models/{CHURN}?stage=Nowhere").status_code == 400
    late = reader.get(f"/models/{CHURN}/history?at=not-a-time")
    assert late.status_code == 200 and "Not a time" in late.text


def test_models_page_filters_sorts_and_pages(as_role: dict[str, httpx.Client]) -> None:
    reader = as_role["reader"]
    word = reader.get("/?q=churn").text
    assert CHURN in word and "wine-quality" not in word
    grammar = reader.get("/", params={"q": "tags.team = 'quality'"}).text
    assert "wine-quality" in grammar and CHURN not in grammar
    first = reader.get("/?size=25&order=-name").text
    assert first.index("wine-quality") < first.index(CHURN)


def test_a_reader_is_offered_no_action_and_a_forged_post_is_refused(
    server: str, seeded: Seeded, as_role: dict[str, httpx.Client]
) -> None:
    reader = as_role["reader"]
    for path in PAGES:
        assert 'class="row action"' not in reader.get(path).text
        assert 'class="inline action"' not in reader.get(path).text
    refused = post_form(reader, VERSION_3, f"{VERSION_3}/stage", stage="Staging")
    assert refused.status_code == 403
    assert "PERMISSION_DENIED" in refused.text
    refused = post_form(reader, f"/models/{CHURN}", f"/models/{CHURN}/description", description="x")
    assert refused.status_code == 403
    with admin(server, seeded) as client:
        assert client.get_registered_model(CHURN).description.startswith("Predicts")
        assert client.get_model_version(CHURN, 3).current_stage == "Staging"


def test_a_post_without_the_sessions_csrf_token_is_refused(
    server: str, seeded: Seeded, as_role: dict[str, httpx.Client]
) -> None:
    promoter, other = as_role["promoter"], as_role["admin"]
    action = f"{VERSION_3}/stage"
    fields = {"stage": "Production", "confirm": "yes"}
    assert promoter.post(action, data=fields).status_code == 403
    assert promoter.post(action, data={**fields, "csrf_token": "forged"}).status_code == 403
    borrowed = csrf_of(other.get("/").text)
    assert promoter.post(action, data={**fields, "csrf_token": borrowed}).status_code == 403
    token = csrf_of(promoter.get("/").text)
    as_json = promoter.post(action, json={**fields, "csrf_token": token})
    assert as_json.status_code == 403
    with httpx.Client(base_url=server) as stranger:
        assert stranger.post(action, data={**fields, "csrf_token": token}).status_code == 403
    with admin(server, seeded) as client:
        assert client.get_model_version(CHURN, 3).current_stage == "Staging"


def test_a_writer_may_stage_but_not_promote(
    server: str, seeded: Seeded, as_role: dict[str, httpx.Client]
) -> None:
    writer = as_role["writer"]
    page = writer.get(VERSION_3).text
    assert "<option>None</option>" in page and "<option>Archived</option>" not in page
    assert "<option>Production</option>" not in page
    assert "@champion needs the promoter role" in page
    assert "Roll back" not in writer.get(f"/models/{CHURN}").text
    for fields in (
        {"stage": "Production", "confirm": "yes"},
        {"stage": "archived"},
    ):
        assert post_form(writer, VERSION_3, f"{VERSION_3}/stage", **fields).status_code == 403
    assert post_form(writer, VERSION_3, f"{VERSION_3}/alias", alias="champion").status_code == 403
    rollback = post_form(
        writer, f"/models/{CHURN}", f"/models/{CHURN}/rollback", stage="Production", confirm="yes"
    )
    assert rollback.status_code == 403
    staged = post_form(writer, VERSION_3, f"{VERSION_3}/stage", stage="None", reason="rework")
    assert staged.status_code == 303 and staged.headers["location"] == VERSION_3
    aliased = post_form(writer, VERSION_3, f"{VERSION_3}/alias", alias="@candidate")
    assert aliased.status_code == 303
    assert "Pointed @candidate" in writer.get(VERSION_3).text
    with admin(server, seeded) as client:
        assert client.get_model_version(CHURN, 3).current_stage == "None"
        assert client.get_model_version_by_alias(CHURN, "candidate").version == "3"
        last = client.get_model_version_history(CHURN)[-2]
        assert (last.actor, last.to_stage, last.reason) == ("writer", "None", "rework")


def test_production_asks_for_confirmation_then_records_the_promoter(
    server: str, seeded: Seeded, as_role: dict[str, httpx.Client]
) -> None:
    promoter = as_role["promoter"]
    fields = {"stage": "Production", "archive_existing_versions": "on", "reason": "beats v4"}
    asked = post_form(promoter, VERSION_3, f"{VERSION_3}/stage", **fields)
    assert asked.status_code == 200
    assert "Move churn-predictor version 3 to Production?" in asked.text
    with admin(server, seeded) as client:
        assert client.get_model_version(CHURN, 3).current_stage == "Staging"
    confirmed = promoter.post(
        f"{VERSION_3}/stage", data={"csrf_token": csrf_of(asked.text), "confirm": "yes", **fields}
    )
    assert confirmed.status_code == 303
    with admin(server, seeded) as client:
        assert client.get_model_version(CHURN, 3).current_stage == "Production"
        assert client.get_model_version(CHURN, 4).current_stage == "Archived"
        promoted = client.get_model_version_history(CHURN, 3)[-1]
        assert (promoted.actor, promoted.reason) == ("promoter", "beats v4")
    history = promoter.get(f"/models/{CHURN}/history").text
    row = history.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert 'class="actor">promoter<' in row and ">v3</a>" in row
    assert "Staging -&gt; Production" in row


def test_rollback_and_champion_need_a_promoter(
    server: str, seeded: Seeded, as_role: dict[str, httpx.Client]
) -> None:
    promoter = as_role["promoter"]
    champion = post_form(promoter, VERSION_3, f"{VERSION_3}/alias", alias="champion")
    assert champion.status_code == 303
    page = f"/models/{CHURN}"
    back = post_form(promoter, page, f"{page}/rollback", stage="@champion", confirm="yes")
    assert back.status_code == 303
    assert back.headers["location"] == f"{page}/history"
    with admin(server, seeded) as client:
        assert client.get_model_version_by_alias(CHURN, "champion").version == "4"
        moves = [(h.alias, h.version, h.actor) for h in client.get_model_version_history(CHURN)]
        assert moves[-2:] == [("champion", "3", "promoter"), ("champion", "4", "promoter")]
    wine = f"/models/{WINE}"
    nothing = post_form(promoter, wine, f"{wine}/rollback", stage="Production", confirm="yes")
    assert nothing.status_code == 500
    assert "INVALID_STATE" in nothing.text and "Nothing to roll back to" in nothing.text


def test_descriptions_and_tags_are_edited_and_escaped(
    server: str, seeded: Seeded, as_role: dict[str, httpx.Client]
) -> None:
    writer = as_role["writer"]
    page = f"/models/{CHURN}"
    script = "<script>alert(1)</script>"
    assert post_form(writer, page, f"{page}/description", description=script).status_code == 303
    assert post_form(writer, page, f"{page}/tags", key="owner", value=script).status_code == 303
    assert post_form(writer, page, f"{page}/tags/delete", key="team").status_code == 303
    html = writer.get(page).text
    assert script not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert post_form(writer, VERSION_4, f"{VERSION_4}/tags", key="", value="x").status_code == 400
    assert post_form(writer, VERSION_4, f"{VERSION_4}/tags", key="k", value="v").status_code == 303
    assert (
        post_form(writer, VERSION_4, f"{VERSION_4}/description", description="d").status_code == 303
    )
    with admin(server, seeded) as client:
        model = client.get_registered_model(CHURN)
        assert model.description == script
        assert model.tags == {"owner": script}
        mv = client.get_model_version(CHURN, 4)
        assert mv.tags["k"] == "v" and mv.description == "d"


def test_revoking_the_token_ends_its_sessions(
    server: str, seeded: Seeded, as_role: dict[str, httpx.Client]
) -> None:
    writer = as_role["writer"]
    assert writer.get("/").status_code == 200
    with admin(server, seeded) as client:
        client.revoke_token("writer")
    assert writer.get("/").status_code == 303


def test_sign_out_forgets_the_session(as_role: dict[str, httpx.Client]) -> None:
    reader = as_role["reader"]
    out = post_form(reader, "/", "/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert reader.get("/").status_code == 303


def test_the_history_page_answers_which_version_held_a_stage(
    as_role: dict[str, httpx.Client],
) -> None:
    reader = as_role["reader"]
    held = reader.get(
        f"/models/{CHURN}/history", params={"holder": "Production", "at": "4102444800000"}
    )
    assert "Production was held by" in held.text and ">v4</a>" in held.text
    before = reader.get(
        f"/models/{CHURN}/history", params={"holder": "@champion", "at": "2001-01-01"}
    )
    assert "@champion was held by no version" in words(before.text)
    one = reader.get(f"/models/{CHURN}/history?version=2").text
    versions = set(re.findall(r">v(\d+)</a></td>", one.split("<tbody>", 1)[1]))
    assert versions == {"2"} and "Production -&gt; Archived" in one


def test_dagster_links_follow_dagster_ui_url(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_UI_URL", "http://dagster.internal:3000/")
    with running_server(seeded.path, auth=True) as url:
        browser = sign_in(url, seeded.tokens["reader"])
        version, model = browser.get(VERSION_4).text, browser.get(f"/models/{CHURN}").text
        browser.close()
    dagster = "http://dagster.internal:3000"
    assert f'href="{dagster}/runs/00000004-aaaa-bbbb-cccc-000000000004"' in version
    assert f'href="{dagster}/assets/churn_predictor/trained_model?view=events"' in version
    assert f'href="{dagster}/runs/00000005-aaaa-bbbb-cccc-000000000005"' in model


def test_without_auth_the_local_user_acts_but_forms_still_need_csrf(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_REGISTRY_ACTOR", "local-alice")
    with running_server(seeded.path) as url, httpx.Client(base_url=url) as browser:
        page = browser.get(VERSION_3)
        assert page.status_code == 200 and "local-alice · local, every role" in page.text
        assert browser.get("/login").status_code == 303
        action = f"{VERSION_3}/stage"
        assert browser.post(action, data={"stage": "Archived"}).status_code == 403
        done = browser.post(action, data={"stage": "Archived", "csrf_token": csrf_of(page.text)})
        assert done.status_code == 303
        assert browser.get("/", headers={"host": "rebound.example"}).status_code == 403
        client = RegistryClient(url)
        last = client.get_model_version_history(CHURN, 3)[-1]
        client.close()
    assert (last.actor, last.to_stage) == ("local-alice", "Archived")


def test_a_session_cookie_opens_no_api_call(as_role: dict[str, httpx.Client]) -> None:
    reader = as_role["promoter"]
    assert reader.get(f"/api/2.0/mlflow/registered-models/get?name={CHURN}").status_code == 401
    moved = reader.post(
        "/api/2.0/mlflow/model-versions/transition-stage",
        json={"name": CHURN, "version": "3", "stage": "Production"},
    )
    assert moved.status_code == 401


def test_models_and_versions_are_paged(tmp_path: Path) -> None:
    client = RegistryClient(tmp_path / "many")
    for index in range(30):
        client.create_registered_model(f"model-{index:02d}")
    for _ in range(55):
        client.create_model_version("model-00", "runs:/r/model")
    client.close()
    link = re.compile(r'href="([^"]+)" rel="(next|prev)"')
    with running_server(tmp_path / "many") as url, httpx.Client(base_url=url) as browser:
        first = browser.get("/?size=25").text
        assert first.count('class="model-name"') == 25
        links = {rel: href.replace("&amp;", "&") for href, rel in link.findall(first)}
        assert set(links) == {"next"}
        second = browser.get(links["next"]).text
        assert second.count('class="model-name"') == 5 and "model-29" in second
        links = {rel: href.replace("&amp;", "&") for href, rel in link.findall(second)}
        assert set(links) == {"prev"}
        assert browser.get(links["prev"]).text.count('class="model-name"') == 25
        versions = browser.get("/models/model-00").text
        assert versions.count('name="v"') == 50 and ">v55</a>" in versions
        older = dict((rel, href) for href, rel in link.findall(versions))["next"]
        rest = browser.get(older.replace("&amp;", "&")).text
        assert rest.count('name="v"') == 5 and ">v1</a>" in rest
        assert "Metrics over" not in rest


def test_a_writer_asks_for_production_and_a_promoter_approves_in_the_ui(
    server: str, seeded: Seeded, as_role: dict[str, httpx.Client]
) -> None:
    writer, promoter = as_role["writer"], as_role["promoter"]
    asked = post_form(
        writer, VERSION_3, f"{VERSION_3}/requests", stage="Production", comment="beats v4"
    )
    assert asked.status_code == 303 and asked.headers["location"] == VERSION_3
    commented = post_form(writer, VERSION_3, f"{VERSION_3}/comments", comment="p99 is fine")
    assert commented.status_code == 303
    page = writer.get(VERSION_3).text
    assert 'data-testid="request"' in page and "beats v4" in page and "p99 is fine" in page
    assert "Cancel my request" in page and "<button>Approve</button>" not in page
    refused = post_form(
        writer, VERSION_3, f"{VERSION_3}/requests/approve", stage="Production", confirm="yes"
    )
    assert refused.status_code == 403

    page = promoter.get(VERSION_3).text
    assert "<button>Approve</button>" in page and "Cancel my request" not in page
    asking = post_form(promoter, VERSION_3, f"{VERSION_3}/requests/approve", stage="Production")
    assert asking.status_code == 200 and "Approve moving" in asking.text
    approved = post_form(
        promoter,
        VERSION_3,
        f"{VERSION_3}/requests/approve",
        stage="Production",
        comment="ship it",
        confirm="yes",
    )
    assert approved.status_code == 303
    with admin(server, seeded) as client:
        assert client.get_model_version(CHURN, 3).current_stage == "Production"
        (request,) = client.list_transition_requests(CHURN, "approved")
        assert (request.requested_by, request.resolved_by) == ("writer", "promoter")
        assert [c.author for c in client.list_comments(CHURN, 3)] == ["writer"]
    unknown = post_form(promoter, VERSION_3, f"{VERSION_3}/requests/sign", stage="Production")
    assert unknown.status_code == 404
