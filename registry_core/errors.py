"""Typed registry errors carrying MLflow-style error codes."""

from __future__ import annotations

RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
INVALID_STATE = "INVALID_STATE"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
DATA_LOSS = "DATA_LOSS"
UNAUTHENTICATED = "UNAUTHENTICATED"
PERMISSION_DENIED = "PERMISSION_DENIED"
INTERNAL_ERROR = "INTERNAL_ERROR"


class RegistryError(Exception):
    """Base of every error the registry raises on purpose; `error_code` says which kind."""

    error_code: str = INVALID_STATE

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code

    def __str__(self) -> str:
        return f"{self.error_code}: {self.message}"


class ResourceDoesNotExist(RegistryError):
    error_code = RESOURCE_DOES_NOT_EXIST


class ResourceAlreadyExists(RegistryError):
    error_code = RESOURCE_ALREADY_EXISTS


class InvalidParameterValue(RegistryError):
    error_code = INVALID_PARAMETER_VALUE


class InvalidState(RegistryError):
    error_code = INVALID_STATE


class RegistryLocked(RegistryError):
    """The registry file stayed locked by another process for longer than the lock timeout."""

    error_code = TEMPORARILY_UNAVAILABLE


class RegistryReadOnly(RegistryError):
    """A change to a registry this process may only read (its folder or file is not writable)."""

    error_code = PERMISSION_DENIED


class ArtifactIntegrityError(RegistryError):
    """A stored artifact is missing or its bytes no longer match the recorded sha256."""

    error_code = DATA_LOSS


class ArtifactFolderConflict(RegistryError):
    """An artifact folder belongs to another registry, or may hold files another registry file
    references, so this registry must neither write into it nor collect garbage from it."""

    error_code = INVALID_STATE


class UntrustedModelError(RegistryError):
    """A model file needs a type or a format the loader was not told to trust."""

    error_code = INVALID_PARAMETER_VALUE


class Unauthenticated(RegistryError):
    """A registry server call carried no token, or one the server does not know."""

    error_code = UNAUTHENTICATED


class PermissionDenied(RegistryError):
    """A registry server call needs a role its token does not have."""

    error_code = PERMISSION_DENIED


class ModelFileError(InvalidParameterValue):
    """A model file its format's loader cannot read: damaged, not of its format, or over the
    archive limits that guard against decompression bombs."""


class MissingDependency(RegistryError):
    """An optional library the operation needs (a model format's) is not installed."""

    error_code = "FEATURE_DISABLED"
