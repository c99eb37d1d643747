"""Checks across the items of an array of tables: names that must be unique.

A duplicate is reported next to the problems inside the items, so one pass still names
everything: the check reads the names from the raw items when some item is invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError, ValidatorFunctionWrapHandler
from pydantic_core import InitErrorDetails, PydanticCustomError

from exporter.config.fields import normalize_domain

Check = Callable[[Any, ValidatorFunctionWrapHandler], Any]


def _custom_error(loc: tuple[str | int, ...], reason: str, value: Any) -> InitErrorDetails:
    """A located problem; the reason is context, so braces in user text stay literal."""
    error = PydanticCustomError("config", "{reason}", {"reason": reason})
    return InitErrorDetails(type=error, loc=loc, input=value)


def _rebuilt(exc: ValidationError) -> list[InitErrorDetails]:
    """The errors of ``exc`` in the form ``from_exception_data`` takes back unchanged."""
    errors = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "config":
            errors.append(_custom_error(loc, error["ctx"]["reason"], error["input"]))
        elif "ctx" in error:
            errors.append(
                InitErrorDetails(
                    type=error["type"], loc=loc, input=error["input"], ctx=error["ctx"]
                )
            )
        else:
            errors.append(InitErrorDetails(type=error["type"], loc=loc, input=error["input"]))
    return errors


def _check_unique(
    names: list[str | None], field: str, reason: Callable[[str, int], str]
) -> list[InitErrorDetails]:
    seen: dict[str, int] = {}
    errors = []
    for i, name in enumerate(names):
        if name is None:
            continue
        if name in seen:
            errors.append(_custom_error((i, field), reason(name, seen[name]), name))
        else:
            seen[name] = i
    return errors


def _unique_check(
    field: str, raw_name: Callable[[Any], str | None], reason: Callable[[str, int], str]
) -> Check:
    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            result = handler(value)
        except ValidationError as exc:
            raw = value if isinstance(value, list) else []
            names = [raw_name(item.get(field)) if isinstance(item, dict) else None for item in raw]
            errors = _rebuilt(exc) + _check_unique(names, field, reason)
            raise ValidationError.from_exception_data(exc.title, errors) from None
        errors = _check_unique([getattr(item, field) for item in result], field, reason)
        if errors:
            raise ValidationError.from_exception_data("Config", errors)
        return result

    return check


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _domain_or_none(value: Any) -> str | None:
    try:
        return normalize_domain(value) if isinstance(value, str) else None
    except ValueError:
        return None


def unique(field: str, reason: str) -> Check:
    """The names of an array of tables are unique (they become label values)."""
    return _unique_check(field, _text, lambda name, _first: f"{name!r} {reason}")


unique_domain_names = _unique_check(
    "name",
    _domain_or_none,
    lambda name, first: f"{name} is already configured at domains[{first}]",
)


def default_account_names(value: Any) -> Any:
    """An account without a name is called ``account<N>`` after its position."""
    if not isinstance(value, list):
        return value
    return [
        {"name": f"account{i}", **item} if isinstance(item, dict) else item
        for i, item in enumerate(value)
    ]
