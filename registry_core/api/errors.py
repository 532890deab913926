"""Registry errors on the wire: MLflow's `{"error_code", "message"}` bodies and HTTP statuses."""

from __future__ import annotations

from typing import Any

from registry_core import errors

# MLflow's ERROR_CODE_TO_HTTP_STATUS, for the codes this registry raises.
HTTP_STATUS: dict[str, int] = {
    errors.INTERNAL_ERROR: 500,
    errors.INVALID_STATE: 500,
    errors.DATA_LOSS: 500,
    errors.TEMPORARILY_UNAVAILABLE: 503,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "ENDPOINT_NOT_FOUND": 404,
    errors.RESOURCE_DOES_NOT_EXIST: 404,
    errors.PERMISSION_DENIED: 403,
    errors.UNAUTHENTICATED: 401,
    "BAD_REQUEST": 400,
    errors.RESOURCE_ALREADY_EXISTS: 400,
    errors.INVALID_PARAMETER_VALUE: 400,
}

_CLASSES: dict[str, type[errors.RegistryError]] = {
    cls.error_code: cls
    for cls in (
        errors.ResourceDoesNotExist,
        errors.ResourceAlreadyExists,
        errors.InvalidParameterValue,
        errors.InvalidState,
        errors.RegistryLocked,
        errors.ArtifactIntegrityError,
        errors.Unauthenticated,
        errors.PermissionDenied,
    )
}


def status_of(error_code: str) -> int:
    """The HTTP status MLflow answers an error code with (500 for unknown codes)."""
    return HTTP_STATUS.get(error_code, 500)


def body_of(error_code: str, message: str) -> dict[str, str]:
    return {"error_code": error_code, "message": message}


def error_from(status: int, body: Any) -> errors.RegistryError:
    """The typed error a server's error response stands for."""
    if isinstance(body, dict) and isinstance(body.get("error_code"), str):
        code, message = body["error_code"], str(body.get("message", ""))
    else:
        code = errors.INTERNAL_ERROR if status >= 500 else "BAD_REQUEST"
        message = f"The registry server answered HTTP {status}."
    cls = _CLASSES.get(code)
    return cls(message) if cls else errors.RegistryError(message, code)
