"""Who may do what in the UI: the endpoint table's role rules, so a page offers exactly the actions
the API would allow its visitor, and an action is refused exactly when the API would refuse it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry_core.api.endpoints import ENDPOINTS
from registry_core.entities import ROLES
from registry_core.server.auth import Authenticator, Principal


def needed_role(method: str, **arguments: Any) -> str:
    """The role the API asks for a call of store `method` with these arguments."""
    return ENDPOINTS.by_method[method].role_for(arguments)


@dataclass(frozen=True)
class Visitor:
    """The person behind a page: the principal their token stands for, and the name their
    changes are recorded under."""

    principal: Principal
    actor: str
    signed_in: bool

    @property
    def role(self) -> str:
        return self.principal.role

    def may(self, method: str, **arguments: Any) -> bool:
        """True when the API would let this visitor call `method` with `arguments`."""
        return ROLES.index(self.principal.role) >= ROLES.index(needed_role(method, **arguments))

    def require(self, method: str, **arguments: Any) -> None:
        """PERMISSION_DENIED, as the API's, unless the visitor may call `method`."""
        Authenticator.require(self.principal, needed_role(method, **arguments))
