"""Parameter checks without pydantic where there is nothing to check.

Typer checks every parameter's value with a pydantic TypeAdapter, and building the first one
imports pydantic: a tenth of a second of every `registry` call. A value that needs no conversion
(none given, or already a valid `str`, `int`, `float` or `bool`, as defaults are) is returned as
it is, which is what the adapter would return; any other value goes to Typer's own check.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param

_PLAIN = (str, int, float, bool)


@dataclass(frozen=True)
class PlainFirst(RuntimeParam):
    """Typer's check of one parameter, built only for a value that needs it."""

    descriptor: TypeDescriptor

    @functools.cached_property
    def typer_check(self) -> RuntimeParam:
        return build_runtime_param(self.descriptor)

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        if _needs_no_check(value, self.descriptor):
            return value
        return self.typer_check._coerce_value(value, param=param, ctx=ctx)


def plain_first(param: Any) -> None:
    """Give a Typer parameter the check above, unless it has a check already (or, as click's
    own parameters, no Typer check at all)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and getattr(param, "_runtime_param", None) is None:
        param._runtime_param = PlainFirst(
            descriptor.parameter_info, descriptor.annotation, descriptor
        )


def _needs_no_check(value: Any, descriptor: TypeDescriptor) -> bool:
    """True for a value of exactly the plain type declared, within its bounds, to be used as is."""
    annotation = descriptor.annotation
    info = descriptor.parameter_info
    if annotation not in _PLAIN or type(value) is not annotation or info.parser is not None:
        return False
    if annotation in (int, float):
        return (info.min is None or value >= info.min) and (info.max is None or value <= info.max)
    return True
