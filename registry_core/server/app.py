"""The registry server's ASGI app, built from the endpoint table over one `EmbeddedStore`.

Each endpoint becomes a route that validates its JSON (or query) against a model made from the
endpoint's fields, checks the caller's role, fills the actor from the token, calls the store and
encodes the reply. Writes that carry an `Idempotency-Key` are answered once: the answer is kept
in the same transaction as the change, and a repeated key gets the kept answer. Writes that
arrive together share one commit (`GroupCommitter`), each still whole or not at all.
"""

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry_core.api.endpoints import ENDPOINTS, EPOCH_HEADER, IDEMPOTENCY_HEADER, Endpoint
from registry_core.api.errors import body_of, status_of
from registry_core.errors import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, RegistryError
from registry_core.server import docs_page
from registry_core.server.archive_routes import add_archive_routes
from registry_core.server.artifact_routes import add_artifact_routes
from registry_core.server.auth import ANONYMOUS, Authenticator, Principal
from registry_core.server.limits import BodyTooLarge, RequestGuard, ServerLimits
from registry_core.server.mlflow_artifact_routes import add_mlflow_artifact_routes
from registry_core.server.ui import mount_ui
from registry_core.store.admin_sql import idempotency_key
from registry_core.store.embedded import EmbeddedStore
from registry_core.store.group_commit import Combine, GroupCommitter, Once

_TOKEN_METHODS = frozenset({"create_token", "revoke_token"})
_log = logging.getLogger("registry.server")


def request_model(endpoint: Endpoint) -> type[BaseModel]:
    """The pydantic model of an endpoint's JSON body or query: its fields, nothing else. A field
    the path carries may come in a body too (MLflow's client repeats it there); the path's value
    is the one used."""
    fields: dict[str, Any] = {}
    for param in endpoint.params:
        if param.field in endpoint.path_fields:
            continue
        schema = param.codec.schema
        fields[param.field] = (schema, ...) if param.required else (schema | None, None)
    repeated = endpoint.path_fields if endpoint.http != "GET" else ()
    for name in (*endpoint.ignored, *repeated):
        fields[name] = (Any, None)
    return create_model(  # type: ignore[call-overload, no-any-return]
        "".join(part.title() for part in endpoint.name.split("_")),
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )


def _json(content: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(content, separators=(",", ":")), status, media_type="application/json"
    )


def error_response(error_code: str, message: str) -> Response:
    return _json(body_of(error_code, message), status_of(error_code))


class Handlers:
    """What every route does between parsing its body and encoding its reply."""

    def __init__(self, store: EmbeddedStore, auth: Authenticator) -> None:
        self.store = store
        self.auth = auth
        self.commits = GroupCommitter(store)

    def caller(self, request: Request) -> Principal:
        """The caller behind the request's token (a lookup in the file for a new token)."""
        principal = self.auth.principal(request.headers.get("authorization"))
        request.scope.setdefault("state", {})["principal"] = principal.name
        return principal

    async def caller_without_blocking(self, request: Request) -> Principal:
        """The caller, from the remembered tokens when possible, else looked up off the event
        loop (the lookup waits for the file, which a batch of writes may hold)."""
        principal = self.auth.remembered(request.headers.get("authorization"))
        if principal is None:
            return await run_in_threadpool(self.caller, request)
        request.scope.setdefault("state", {})["principal"] = principal.name
        return principal

    def arguments(
        self, endpoint: Endpoint, body: BaseModel | None, path: Mapping[str, str]
    ) -> dict[str, Any]:
        data = {**(body.model_dump() if body is not None else {}), **path}
        # An absent optional field takes the store method's default; a required one that came
        # as null goes to the store as None, whose checks then name it.
        return {
            param.name: None
            if data.get(param.field) is None
            else param.codec.decode(data[param.field])
            for param in endpoint.params
            if param.required or data.get(param.field) is not None
        }

    def checked_arguments(
        self,
        endpoint: Endpoint,
        principal: Principal,
        body: BaseModel | None,
        path: Mapping[str, str],
    ) -> dict[str, Any]:
        """The store call's arguments for this caller, checked against their role, with the
        actor taken from their token."""
        arguments = self.arguments(endpoint, body, path)
        self.auth.require(principal, endpoint.role_for(arguments))
        if endpoint.identity is not None:
            claimed = arguments.get(endpoint.identity)
            arguments[endpoint.identity] = (
                principal.name if principal.authenticated else claimed or ANONYMOUS
            )
        return arguments

    def perform(self, endpoint: Endpoint, arguments: dict[str, Any]) -> tuple[int, str]:
        """Call the store and encode its reply."""
        if endpoint.call is not None:
            result = endpoint.call(self.store, arguments)
        else:
            result = getattr(self.store, endpoint.method)(**arguments)
        if endpoint.method in _TOKEN_METHODS:
            self.auth.forget()
        return _encoded(endpoint, result)

    def perform_all(self, endpoint: Endpoint, calls: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """Make many calls of an endpoint at once through its combined store method."""
        return [_encoded(endpoint, r) for r in getattr(self.store, endpoint.combined)(calls)]

    def reply(self, status: int, content: str) -> Response:
        return Response(
            content, status, {EPOCH_HEADER: self.commits.epoch}, media_type="application/json"
        )

    def read(self, endpoint: Endpoint, request: Request, body: BaseModel | None) -> Response:
        """A read, on a worker thread: it holds the file while it runs."""
        principal = self.caller(request)
        arguments = self.checked_arguments(endpoint, principal, body, request.path_params)
        return self.reply(*self.perform(endpoint, arguments))

    async def write(self, endpoint: Endpoint, request: Request, body: BaseModel | None) -> Response:
        """A write, handed to the committer without a worker thread in between; its answer is
        kept under the request's idempotency key."""
        principal = await self.caller_without_blocking(request)
        arguments = self.checked_arguments(endpoint, principal, body, request.path_params)
        key = request.headers.get(IDEMPOTENCY_HEADER) if not endpoint.secret_reply else None
        once = None
        if key is not None:
            key = idempotency_key(key)
            where = f"{request.url.path}\n" if endpoint.path_fields else ""
            fingerprint = hashlib.sha256(
                f"{endpoint.name}\n{where}{body.model_dump_json() if body else ''}".encode()
            ).hexdigest()
            prefix, dot, _ = key.partition(".")
            once = Once(f"{principal.name}:{key}", fingerprint, prefix if dot else None)
        combine = (
            Combine(endpoint.name, partial(self.perform_all, endpoint), arguments)
            if endpoint.combined
            else None
        )
        change = partial(self.perform, endpoint, arguments)
        return self.reply(*await asyncio.wrap_future(self.commits.enqueue(change, once, combine)))


def _encoded(endpoint: Endpoint, result: Any) -> tuple[int, str]:
    return 200, json.dumps(endpoint.reply.encode(result), separators=(",", ":"))


def _route(handlers: Handlers, endpoint: Endpoint) -> Callable[..., Any]:
    """The route function of an endpoint: reads on a worker thread, writes on the event loop
    (they wait for the committer, not for the file); a body is required when a field is."""
    model = request_model(endpoint)
    if endpoint.http == "GET":

        def get(request: Request, body: Annotated[model, Query()]) -> Response:  # type: ignore[valid-type]
            return handlers.read(endpoint, request, body)

        return get
    body_type = Annotated[model, Body()]  # type: ignore[valid-type]
    optional_type = Annotated[model | None, Body()]  # type: ignore[valid-type]
    required = any(
        param.required and param.field not in endpoint.path_fields for param in endpoint.params
    )
    if not endpoint.writes:
        if required:

            def post(request: Request, body: body_type) -> Response:  # type: ignore[valid-type]
                return handlers.read(endpoint, request, body)

            return post

        def post_optional(request: Request, body: optional_type = None) -> Response:  # type: ignore[valid-type]
            return handlers.read(endpoint, request, body)

        return post_optional
    if required:

        async def write(request: Request, body: body_type) -> Response:  # type: ignore[valid-type]
            return await handlers.write(endpoint, request, body)

        return write

    async def write_optional(request: Request, body: optional_type = None) -> Response:  # type: ignore[valid-type]
        return await handlers.write(endpoint, request, body)

    return write_optional


def _path_parameters(endpoint: Endpoint) -> dict[str, Any] | None:
    """The OpenAPI declaration of the fields an endpoint's path carries (the route reads them
    from the request, so FastAPI does not declare them itself)."""
    if not endpoint.path_fields:
        return None
    return {
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in endpoint.path_fields
        ]
    }


def _validation_message(error: RequestValidationError) -> str:
    problems = []
    for problem in error.errors()[:5]:
        where = ".".join(
            str(part) for part in problem.get("loc", ()) if part not in ("body", "query")
        )
        problems.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(problems)


def create_app(
    store: EmbeddedStore, *, auth: bool = True, limits: ServerLimits | None = None
) -> FastAPI:
    """The ASGI app serving `store`; `auth=False` serves anonymous callers (loopback only)."""
    authenticator = Authenticator(store, auth)
    handlers = Handlers(store, authenticator)
    app = FastAPI(
        title="Dagster Model Registry",
        summary="MLflow's Model Registry REST API, with history, rollback, lineage and more.",
        docs_url=None,
        redoc_url=None,
    )
    for endpoint in ENDPOINTS.endpoints:
        app.add_api_route(
            endpoint.path,
            _route(handlers, endpoint),
            methods=[endpoint.http],
            operation_id=endpoint.name,
            summary=endpoint.summary or endpoint.method.replace("_", " "),
            tags=["MLflow" if endpoint.mlflow else "Registry"],
            response_class=Response,
            openapi_extra=_path_parameters(endpoint),
        )
    app.state.commits = handlers.commits
    add_artifact_routes(app, store, handlers.caller, authenticator.require)
    add_archive_routes(app, store, handlers.caller, authenticator.require)
    add_mlflow_artifact_routes(
        app, store, handlers.caller, authenticator.require, handlers.commits.submit
    )
    mount_ui(app, store, authenticator)

    @app.get("/health", include_in_schema=False)
    async def health() -> Response:
        return _json({"status": "ok"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_page.render(app.openapi()))

    @app.exception_handler(RegistryError)
    def registry_error(request: Request, error: RegistryError) -> Response:
        if isinstance(error, BodyTooLarge):
            return _json(body_of(error.error_code, error.message), 413)
        return error_response(error.error_code, error.message)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, error: RequestValidationError) -> Response:
        return error_response(INVALID_PARAMETER_VALUE, _validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return error_response("ENDPOINT_NOT_FOUND", f"No endpoint {request.url.path}.")
        if error.status_code == 405:
            return _json(
                body_of("BAD_REQUEST", f"{request.method} is not allowed on {request.url.path}."),
                405,
            )
        return _json(body_of("BAD_REQUEST", str(error.detail)), error.status_code)

    @app.exception_handler(Exception)
    def internal_error(request: Request, error: Exception) -> Response:
        _log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(INTERNAL_ERROR, "Internal server error; the server log has details.")

    app.add_middleware(RequestGuard, limits=limits or ServerLimits())
    return app
