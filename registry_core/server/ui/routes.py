"""The UI's routes: pages read through the registry client, forms that act through it.

Each request finds its visitor from the session cookie (with auth off, the one local user with
every role). A page without a signed-in visitor redirects to the sign-in page. A form is acted
on only with the session's CSRF token, and only when the endpoint table's role rule allows the
visitor the same call through the API; its change is recorded under the visitor's token name.
Then the browser is redirected back (post/redirect/get) with a message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import RedirectResponse, Response

from registry_core import config
from registry_core.api.errors import status_of
from registry_core.client import RegistryClient
from registry_core.entities import STAGE_PRODUCTION
from registry_core.errors import (
    PERMISSION_DENIED,
    RegistryError,
    ResourceDoesNotExist,
    Unauthenticated,
)
from registry_core.server.auth import Authenticator
from registry_core.server.serve import is_loopback
from registry_core.server.ui import pages
from registry_core.server.ui.links import DagsterLinks, local_path, model_url, version_url
from registry_core.server.ui.rendering import render
from registry_core.server.ui.roles import Visitor
from registry_core.server.ui.sessions import COOKIE, CSRF_FIELD, Session, SessionStore

Form = dict[str, str]
FORM_TYPE = "application/x-www-form-urlencoded"
CSRF_REFUSED = (
    "This form was not sent from a page of this registry (its CSRF token is missing or wrong); "
    "reload the page and try again."
)


async def read_form(request: Request) -> Form:
    """A urlencoded form body as a mapping (last value wins); empty for any other body."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        return {}
    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError:
        return {}
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


FormBody = Annotated[Form, Depends(read_form)]


@dataclass
class Visit:
    """One request's session (None before the first page) and visitor (None until signed in)."""

    request: Request
    session: Session | None
    visitor: Visitor | None
    started: float
    new_cookie: bool = False


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation page asks before a form is acted on."""

    title: str
    message: str


class RegistryUi:
    """The web UI over one store, its sessions, and the server's authenticator."""

    def __init__(self, client: RegistryClient, auth: Authenticator, dagster: DagsterLinks) -> None:
        self.client = client
        self.auth = auth
        self.dagster = dagster
        self.sessions = SessionStore()

    # -- who is asking -------------------------------------------------------------------

    def visit(self, request: Request) -> Visit:
        started = time.perf_counter()
        session = self.sessions.get(request.cookies.get(COOKIE))
        if not self.auth.enabled:
            visit = Visit(request, session, None, started)
            if session is None:
                visit.session, visit.new_cookie = self.sessions.new(), True
            visit.visitor = Visitor(self.auth.principal(None), config.default_actor(), False)
            return visit
        if session is None or session.secret is None:
            return Visit(request, session, None, started)
        try:
            principal = self.auth.principal(f"Bearer {session.secret}")
        except Unauthenticated:
            self.sessions.drop(session)
            return Visit(request, None, None, started)
        request.scope.setdefault("state", {})["principal"] = principal.name
        return Visit(request, session, Visitor(principal, principal.name, True), started)

    def open_to(self, request: Request) -> bool:
        """With auth off, only pages asked for by a loopback name (no DNS rebinding)."""
        return self.auth.enabled or is_loopback(request.url.hostname or "")

    # -- answers -------------------------------------------------------------------------

    def respond(self, visit: Visit, template: str, status: int = 200, **context: Any) -> Response:
        session = visit.session
        response = render(
            template,
            status,
            visit.started,
            {
                "visitor": visit.visitor,
                "csrf": session.csrf if session else "",
                "flashes": session.take_flashes() if session else [],
                "dagster": self.dagster,
                **context,
            },
        )
        if visit.new_cookie and session is not None:
            self.set_cookie(visit.request, response, session)
        return response

    @staticmethod
    def set_cookie(request: Request, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            session.id,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    def error(self, visit: Visit, error: RegistryError, back: str | None = None) -> Response:
        return self.respond(
            visit,
            "error.html",
            status_of(error.error_code),
            code=error.error_code,
            message=error.message,
            back=back,
        )

    def to_sign_in(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)

    def page(
        self,
        request: Request,
        template: str,
        build: Callable[[Visitor], Any],
        back: str | None = None,
        fallback: Callable[[RegistryError], Any] | None = None,
    ) -> Response:
        """A page for a signed-in visitor (others are sent to sign in). When `build` fails, the
        error page, or the page `fallback` makes of the error (with the error's status)."""
        visit = self.visit(request)
        if not self.open_to(request):
            return self.refused(visit)
        if visit.visitor is None:
            return self.to_sign_in(request)
        try:
            data = build(visit.visitor)
        except RegistryError as error:
            if fallback is None:
                return self.error(visit, error, back)
            return self.respond(visit, template, status_of(error.error_code), page=fallback(error))
        return self.respond(visit, template, page=data)

    @staticmethod
    def form_session(visit: Visit, form: Form) -> Session | None:
        """The session a form came from: None unless it carries the session's CSRF token."""
        if visit.session is None or not visit.session.csrf_matches(form.get(CSRF_FIELD)):
            return None
        return visit.session

    def forged(self, visit: Visit, back: str) -> Response:
        return self.error(visit, RegistryError(CSRF_REFUSED, PERMISSION_DENIED), back)

    def refused(self, visit: Visit) -> Response:
        return self.error(
            visit,
            RegistryError(
                "With auth off this UI answers only at a loopback address (127.0.0.1, ::1, "
                "localhost).",
                PERMISSION_DENIED,
            ),
        )

    def act(
        self,
        request: Request,
        form: Form,
        method: str,
        arguments: dict[str, Any],
        run: Callable[[Visitor], str],
        back: str,
        confirm: Confirmation | None = None,
    ) -> Response:
        """Check the form's CSRF token and the visitor's role for the store call `method`,
        ask for confirmation if needed, then `run` it and redirect `back` with its message."""
        visit = self.visit(request)
        if not self.open_to(request):
            return self.refused(visit)
        session = self.form_session(visit, form)
        if session is None:
            return self.forged(visit, back)
        if visit.visitor is None:
            return self.error(
                visit, Unauthenticated("Sign in with a registry token to change anything."), back
            )
        try:
            visit.visitor.require(method, **arguments)
            if confirm is not None and form.get("confirm") != "yes":
                fields = {k: v for k, v in form.items() if k not in (CSRF_FIELD, "confirm")}
                return self.respond(
                    visit,
                    "confirm.html",
                    confirmation=confirm,
                    action=request.url.path,
                    fields=fields,
                    back=back,
                )
            message = run(visit.visitor)
        except RegistryError as error:
            return self.error(visit, error, back)
        session.flash("done", message)
        return RedirectResponse(back, 303)


def _text(form: Form, key: str) -> str | None:
    """A form field, None when empty."""
    value = form.get(key, "").strip()
    return value or None


def add_ui_routes(app: FastAPI, ui: RegistryUi) -> None:
    """The pages at `/`, `/models/...` and `/login`, and their forms."""
    client = ui.client
    ui_route: dict[str, Any] = {"include_in_schema": False}

    # -- signing in and out --------------------------------------------------------------

    @app.get("/login", **ui_route)
    def sign_in_page(request: Request, next: str = "/") -> Response:
        visit = ui.visit(request)
        if visit.visitor is not None:
            return RedirectResponse(local_path(next), 303)
        if visit.session is None:
            visit.session, visit.new_cookie = ui.sessions.new(), True
        return ui.respond(visit, "login.html", next=local_path(next), problem=None)

    @app.post("/login", **ui_route)
    def sign_in(request: Request, form: FormBody) -> Response:
        visit = ui.visit(request)
        target = local_path(form.get("next"))
        if visit.visitor is not None:
            return RedirectResponse(target, 303)
        pre_session = ui.form_session(visit, form)
        if pre_session is None:
            return ui.forged(visit, "/login")
        secret = form.get("token", "").strip()
        try:
            principal = ui.auth.principal(f"Bearer {secret}")
        except Unauthenticated as error:
            return ui.respond(visit, "login.html", 401, next=target, problem=error.message)
        ui.sessions.drop(pre_session)
        session = ui.sessions.new(secret)
        session.flash("done", f"Signed in as {principal.name} ({principal.role}).")
        response = RedirectResponse(target, 303)
        ui.set_cookie(request, response, session)
        return response

    @app.post("/logout", **ui_route)
    def sign_out(request: Request, form: FormBody) -> Response:
        visit = ui.visit(request)
        session = ui.form_session(visit, form)
        if session is None:
            return ui.forged(visit, "/")
        ui.sessions.drop(session)
        response = RedirectResponse("/login" if ui.auth.enabled else "/", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- pages ---------------------------------------------------------------------------

    @app.get("/", **ui_route)
    def models(
        request: Request,
        q: str = "",
        order: str = "name",
        size: str = str(pages.MODELS_PER_PAGE),
        page_token: str | None = None,
    ) -> Response:
        per_page = int(size) if size.isdigit() else 0
        return ui.page(
            request,
            "models.html",
            lambda _: pages.models_page(client, q, order, per_page, page_token),
            fallback=lambda error: pages.ModelsPage.failed(q, order, per_page, error.message),
        )

    @app.get("/models/{name}", **ui_route)
    def model(
        request: Request, name: str, stage: str | None = None, page_token: str | None = None
    ) -> Response:
        return ui.page(
            request,
            "model.html",
            lambda _: pages.model_page(client, name, stage or None, page_token),
            back="/",
        )

    @app.get("/models/{name}/versions/{version}", **ui_route)
    def version(request: Request, name: str, version: str) -> Response:
        return ui.page(
            request,
            "version.html",
            lambda _: pages.version_page(client, name, version),
            back=model_url(name),
        )

    @app.get("/models/{name}/compare", **ui_route)
    def compare(
        request: Request,
        name: str,
        v: Annotated[list[str] | None, Query()] = None,
        all_params: bool = False,
    ) -> Response:
        return ui.page(
            request,
            "compare.html",
            lambda _: pages.compare_page(client, name, v or [], all_params),
            back=model_url(name),
        )

    @app.get("/models/{name}/history", **ui_route)
    def history(
        request: Request,
        name: str,
        version: str | None = None,
        page: int = 1,
        holder: str = STAGE_PRODUCTION,
        at: str = "",
    ) -> Response:
        return ui.page(
            request,
            "history.html",
            lambda _: pages.history_page(client, name, version, page, holder, at),
            back=model_url(name),
        )

    # -- a registered model's forms ------------------------------------------------------

    @app.post("/models/{name}/description", **ui_route)
    def describe_model(request: Request, name: str, form: FormBody) -> Response:
        def run(_: Visitor) -> str:
            client.update_registered_model(name, form.get("description", ""))
            return f"Saved the description of {name}."

        return ui.act(request, form, "update_registered_model", {}, run, model_url(name))

    @app.post("/models/{name}/tags", **ui_route)
    def tag_model(request: Request, name: str, form: FormBody) -> Response:
        key = form.get("key", "").strip()

        def run(_: Visitor) -> str:
            client.set_registered_model_tag(name, key, form.get("value", ""))
            return f"Set tag {key} of {name}."

        return ui.act(request, form, "set_registered_model_tag", {}, run, model_url(name))

    @app.post("/models/{name}/tags/delete", **ui_route)
    def untag_model(request: Request, name: str, form: FormBody) -> Response:
        key = form.get("key", "")

        def run(_: Visitor) -> str:
            client.delete_registered_model_tag(name, key)
            return f"Deleted tag {key} of {name}."

        return ui.act(request, form, "delete_registered_model_tag", {}, run, model_url(name))

    @app.post("/models/{name}/aliases/delete", **ui_route)
    def delete_alias(request: Request, name: str, form: FormBody) -> Response:
        alias = form.get("alias", "").strip()

        def run(visitor: Visitor) -> str:
            client.delete_registered_model_alias(
                name, alias, actor=visitor.actor, reason=_text(form, "reason")
            )
            return f"Removed @{alias} of {name}."

        return ui.act(
            request, form, "delete_registered_model_alias", {"alias": alias}, run, model_url(name)
        )

    @app.post("/models/{name}/rollback", **ui_route)
    def rollback(request: Request, name: str, form: FormBody) -> Response:
        stage = form.get("stage", STAGE_PRODUCTION).strip()

        def run(visitor: Visitor) -> str:
            held = client.rollback(name, stage, actor=visitor.actor, reason=_text(form, "reason"))
            return f"Rolled {stage} of {name} back to version {held.version}."

        confirm = Confirmation(
            f"Roll back {stage} of {name}?",
            f"{stage} goes back to the version that held it before the current one, and the "
            "current holder is archived (for an @alias, the alias moves back).",
        )
        back = model_url(name) + "/history"
        return ui.act(request, form, "rollback", {"stage": stage}, run, back, confirm)

    # -- a version's forms ---------------------------------------------------------------

    @app.post("/models/{name}/versions/{version}/stage", **ui_route)
    def transition(request: Request, name: str, version: str, form: FormBody) -> Response:
        stage = form.get("stage", "").strip()
        archive = form.get("archive_existing_versions") in ("on", "true", "yes")

        def run(visitor: Visitor) -> str:
            moved = client.transition_model_version_stage(
                name, version, stage, archive, actor=visitor.actor, reason=_text(form, "reason")
            )
            return f"Moved {name} version {moved.version} to {moved.current_stage}."

        confirm = None
        if stage.lower() == STAGE_PRODUCTION.lower():
            others = " and archive the versions now in Production" if archive else ""
            confirm = Confirmation(
                f"Move {name} version {version} to Production?",
                f"Version {version} will serve every caller of models:/{name}/Production{others}.",
            )
        return ui.act(
            request,
            form,
            "transition_model_version_stage",
            {"stage": stage},
            run,
            version_url(name, version),
            confirm,
        )

    @app.post("/models/{name}/versions/{version}/alias", **ui_route)
    def set_alias(request: Request, name: str, version: str, form: FormBody) -> Response:
        alias = form.get("alias", "").strip().lstrip("@")

        def run(visitor: Visitor) -> str:
            client.set_registered_model_alias(
                name, alias, version, actor=visitor.actor, reason=_text(form, "reason")
            )
            return f"Pointed @{alias} of {name} at version {version}."

        return ui.act(
            request,
            form,
            "set_registered_model_alias",
            {"alias": alias},
            run,
            version_url(name, version),
        )

    # -- a version's transition requests and comments ------------------------------------

    @app.post("/models/{name}/versions/{version}/requests", **ui_route)
    def request_transition(request: Request, name: str, version: str, form: FormBody) -> Response:
        stage = form.get("stage", "").strip()

        def run(visitor: Visitor) -> str:
            opened = client.create_transition_request(
                name, version, stage, _text(form, "comment"), actor=visitor.actor
            )
            return f"Opened request #{opened.id} to move version {version} to {opened.to_stage}."

        back = version_url(name, version)
        return ui.act(request, form, "create_transition_request", {}, run, back)

    @app.post("/models/{name}/versions/{version}/requests/{action}", **ui_route)
    def settle_request(
        request: Request, name: str, version: str, action: str, form: FormBody
    ) -> Response:
        stage = form.get("stage", "").strip()
        settle = {
            "approve": "approve_transition_request",
            "reject": "reject_transition_request",
            "cancel": "cancel_transition_request",
        }.get(action)
        if settle is None:
            return ui.error(
                ui.visit(request),
                ResourceDoesNotExist(f"No request action {action!r}."),
                version_url(name, version),
            )

        def run(visitor: Visitor) -> str:
            comment = _text(form, "comment")
            if settle == "approve_transition_request":
                done = client.approve_transition_request(
                    name, version, stage, True, comment, actor=visitor.actor
                )
            else:
                done = getattr(client, settle)(name, version, stage, comment, actor=visitor.actor)
            return (
                f"Request #{done.id} to move version {version} to {done.to_stage}: {done.status}."
            )

        confirm = None
        if settle == "approve_transition_request" and stage.lower() == STAGE_PRODUCTION.lower():
            confirm = Confirmation(
                f"Approve moving {name} version {version} to Production?",
                f"Version {version} will serve every caller of models:/{name}/Production, and "
                "the versions now in Production are archived.",
            )
        back = version_url(name, version)
        return ui.act(request, form, settle, {"stage": stage}, run, back, confirm)

    @app.post("/models/{name}/versions/{version}/comments", **ui_route)
    def comment(request: Request, name: str, version: str, form: FormBody) -> Response:
        def run(visitor: Visitor) -> str:
            client.create_comment(name, version, form.get("comment", ""), actor=visitor.actor)
            return f"Commented on {name} version {version}."

        back = version_url(name, version)
        return ui.act(request, form, "create_comment", {}, run, back)

    @app.post("/models/{name}/versions/{version}/description", **ui_route)
    def describe_version(request: Request, name: str, version: str, form: FormBody) -> Response:
        def run(_: Visitor) -> str:
            client.update_model_version(name, version, form.get("description", ""))
            return f"Saved the description of {name} version {version}."

        return ui.act(request, form, "update_model_version", {}, run, version_url(name, version))

    @app.post("/models/{name}/versions/{version}/tags", **ui_route)
    def tag_version(request: Request, name: str, version: str, form: FormBody) -> Response:
        key = form.get("key", "").strip()

        def run(_: Visitor) -> str:
            client.set_model_version_tag(name, version, key, form.get("value", ""))
            return f"Set tag {key} of {name} version {version}."

        return ui.act(request, form, "set_model_version_tag", {}, run, version_url(name, version))

    @app.post("/models/{name}/versions/{version}/tags/delete", **ui_route)
    def untag_version(request: Request, name: str, version: str, form: FormBody) -> Response:
        key = form.get("key", "")

        def run(_: Visitor) -> str:
            client.delete_model_version_tag(name, version, key)
            return f"Deleted tag {key} of {name} version {version}."

        return ui.act(
            request, form, "delete_model_version_tag", {}, run, version_url(name, version)
        )
