"""Addresses: the UI's own pages, and the Dagster UI's run and asset pages when
`DAGSTER_UI_URL` says where the Dagster UI is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from registry_core.config import ENV_DAGSTER_UI_URL
from registry_core.errors import InvalidParameterValue


def model_url(name: str) -> str:
    return f"/models/{quote(name, safe='')}"


def version_url(name: str, version: str | int) -> str:
    return f"{model_url(name)}/versions/{quote(str(version), safe='')}"


def with_query(path: str, **params: str | int | list[str] | None) -> str:
    """`path` with the given query parameters (None values left out, lists repeated)."""
    pairs = [
        (key, str(item))
        for key, value in params.items()
        if value is not None
        for item in (value if isinstance(value, list) else [value])
    ]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site (so a sign-in never redirects elsewhere)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@dataclass(frozen=True)
class DagsterLinks:
    """Links into the Dagster UI at `base` (no links when None: ids are shown as text)."""

    base: str | None

    @classmethod
    def from_env(cls) -> DagsterLinks:
        return cls.checked(os.environ.get(ENV_DAGSTER_UI_URL) or None)

    @classmethod
    def checked(cls, base: str | None) -> DagsterLinks:
        if base is None:
            return cls(None)
        if not base.lower().startswith(("http://", "https://")):
            raise InvalidParameterValue(
                f"{ENV_DAGSTER_UI_URL}={base!r} must be an http:// or https:// URL, "
                "such as http://127.0.0.1:3000."
            )
        return cls(base.rstrip("/"))

    def run(self, run_id: str | None) -> str | None:
        """The Dagster run's page."""
        if not self.base or not run_id:
            return None
        return f"{self.base}/runs/{quote(run_id, safe='')}"

    def asset(self, asset_key: str | None) -> str | None:
        """The asset's materializations (`asset_key` as Dagster prints it: `a/b`)."""
        if not self.base or not asset_key:
            return None
        path = "/".join(quote(part, safe="") for part in asset_key.split("/") if part)
        return f"{self.base}/assets/{path}?view=events"
