"""A small hand-written validator: each type checks a value exactly (a
boolean is not a number, a number is not a string; unknown fields are
refused at every level) and describes itself as JSON Schema, so the OpenAPI
document is built from the very objects that validate. Errors name their
field as a JSON pointer (RFC 6901) and are all collected before the caller
writes anything."""

from __future__ import annotations

import contextlib
import json
import math
import re
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from flask import request

from portal.api.problems import ApiProblem, invalid
from portal.text import CONTROL, has_control

Errors = list[dict[str, str]]
MAX_BODY = 64 * 1024
MAX_DEPTH = 16  # the deepest body the API reads is 4 levels
CONTROL_REFUSED = "must not contain control characters"
NO_CONTROL = {"type": "string", "pattern": CONTROL.pattern}  # what a string must not match
_JSON_TYPES: dict[type, str] = {str: "string", list: "array", dict: "object"}


def pointer(parent: str, key: str | int) -> str:
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


class Invalid(Exception):
    """Raised by a type after recording its error."""


class Type:
    description: str | None = None

    def check(self, value: Any, at: str, errors: Errors) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def fail(self, at: str, errors: Errors, detail: str) -> Any:
        errors.append({"pointer": at, "detail": detail})
        raise Invalid(at)

    def describe(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "description": self.description} if self.description else body


class Str(Type):
    def __init__(
        self,
        min_length: int = 1,
        max_length: int = 200,
        pattern: str | None = None,
        description: str | None = None,
        example: str | None = None,
    ) -> None:
        self.min_length, self.max_length, self.description, self.example = min_length, max_length, description, example
        self.pattern = re.compile(pattern) if pattern else None

    def check(self, value: Any, at: str, errors: Errors) -> str:
        if not isinstance(value, str):
            return self.fail(at, errors, f"must be a string, not {json_type(value)}")
        if self.min_length and not value.strip():
            return self.fail(at, errors, "must not be empty or blank")
        if len(value) < self.min_length:
            return self.fail(at, errors, f"must have at least {self.min_length} characters")
        if len(value) > self.max_length:
            return self.fail(at, errors, f"must have at most {self.max_length} characters")
        if self.pattern and not self.pattern.fullmatch(value):
            return self.fail(at, errors, f"must match {self.pattern.pattern}")
        if has_control(value):
            return self.fail(at, errors, CONTROL_REFUSED)
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "minLength": self.min_length, "maxLength": self.max_length}
        if self.pattern:
            out["pattern"] = f"^(?:{self.pattern.pattern})$"
        elif self.min_length:
            out["pattern"] = r"\S"  # not blank (JSON Schema patterns search, unanchored)
        if self.example:
            out["examples"] = [self.example]
        out["not"] = NO_CONTROL
        return self.describe(out)


class Bool(Type):
    def __init__(self, description: str | None = None) -> None:
        self.description = description

    def check(self, value: Any, at: str, errors: Errors) -> bool:
        if not isinstance(value, bool):
            return self.fail(at, errors, f"must be a boolean (true or false), not {json_type(value)}")
        return value

    def schema(self) -> dict[str, Any]:
        return self.describe({"type": "boolean"})


class Int(Type):
    def __init__(self, minimum: int = 0, maximum: int = 10_000, description: str | None = None) -> None:
        self.minimum, self.maximum, self.description = minimum, maximum, description

    def check(self, value: Any, at: str, errors: Errors) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            return self.fail(at, errors, f"must be an integer, not {json_type(value)}")
        if not self.minimum <= value <= self.maximum:
            return self.fail(at, errors, f"must be from {self.minimum} to {self.maximum}")
        return value

    def schema(self) -> dict[str, Any]:
        return self.describe({"type": "integer", "minimum": self.minimum, "maximum": self.maximum})


class IntParam(Int):
    """An integer in a query parameter: decimal digits only (no sign, no
    spaces, no leading zeros), within bounds."""

    DIGITS = re.compile(r"0|[1-9][0-9]{0,8}")

    def check(self, value: Any, at: str, errors: Errors) -> int:
        if not isinstance(value, str) or not self.DIGITS.fullmatch(value):
            return self.fail(at, errors, f"must be a whole number from {self.minimum} to {self.maximum}")
        return super().check(int(value), at, errors)


class Day(Type):
    """An ISO 8601 calendar date, YYYY-MM-DD, and nothing looser; none
    before EARLIEST (a typing error, not a credit history)."""

    SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
    SCHEMA_SHAPE = r"^(?:19|[2-9][0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}$"  # from 1900
    EARLIEST = date(1900, 1, 1)

    def __init__(self, description: str | None = None) -> None:
        self.description = f"{description or 'A date.'} Not before {self.EARLIEST.isoformat()}."

    def check(self, value: Any, at: str, errors: Errors) -> date:
        if not isinstance(value, str):
            return self.fail(at, errors, f"must be a date string YYYY-MM-DD, not {json_type(value)}")
        try:
            if not self.SHAPE.fullmatch(value):
                raise ValueError
            day = date.fromisoformat(value)
        except ValueError:
            return self.fail(at, errors, f"{value!r} is not a date in the form YYYY-MM-DD")
        if day < self.EARLIEST:
            return self.fail(at, errors, f"must not be before {self.EARLIEST.isoformat()}")
        return day

    def schema(self) -> dict[str, Any]:
        return self.describe({"type": "string", "format": "date", "pattern": self.SCHEMA_SHAPE})


class Amount(Str):
    """Money as a decimal string ("1234.50"): no floats, no rounding, and
    no sign: a principal, a balance or an amount overdue is never negative."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__(
            1,
            20,
            r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,2})?",
            description or "A decimal string with at most two decimals, not negative.",
            "50000.00",
        )

    def check(self, value: Any, at: str, errors: Errors) -> str:
        if not isinstance(value, str):
            return self.fail(at, errors, f'an amount is a decimal string such as "50000.00", not {json_type(value)}')
        if value.startswith("-"):
            return self.fail(at, errors, "must not be negative")
        return super().check(value, at, errors)


class Choice(Type):
    def __init__(self, enum: type[Enum], description: str | None = None) -> None:
        self.enum, self.description = enum, description
        self.values = [m.value for m in enum]

    def check(self, value: Any, at: str, errors: Errors) -> Enum:
        if not isinstance(value, str):
            return self.fail(at, errors, f"must be a string, not {json_type(value)}")
        if value not in self.values:
            return self.fail(at, errors, f"{value!r} is not one of: {', '.join(self.values)}")
        return self.enum(value)

    def schema(self) -> dict[str, Any]:
        return self.describe({"type": "string", "enum": self.values})


class Nullable(Type):
    def __init__(self, inner: Type) -> None:
        self.inner, self.description = inner, inner.description

    def check(self, value: Any, at: str, errors: Errors) -> Any:
        return None if value is None else self.inner.check(value, at, errors)

    def schema(self) -> dict[str, Any]:
        inner = dict(self.inner.schema())
        inner["type"] = [inner["type"], "null"]
        if "enum" in inner:  # an enum lists every allowed value
            inner["enum"] = [*inner["enum"], None]
        return inner


class Scalar(Type):
    """A free detail value: a string, a finite number or a boolean."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def check(self, value: Any, at: str, errors: Errors) -> Any:
        if isinstance(value, str):
            if len(value) > self.max_length:
                return self.fail(at, errors, f"must have at most {self.max_length} characters")
            if has_control(value):
                return self.fail(at, errors, CONTROL_REFUSED)
            return value
        if isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value)):
            return value
        return self.fail(at, errors, f"must be a string, number or boolean, not {json_type(value)}")

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "number", "boolean"], "maxLength": self.max_length, "not": NO_CONTROL}


@dataclass(frozen=True)
class Prop:
    type: Type
    required: bool = True
    default: Any = None


class Obj(Type):
    def __init__(self, props: dict[str, Prop], description: str | None = None) -> None:
        self.props, self.description = props, description

    def check(self, value: Any, at: str, errors: Errors) -> dict[str, Any]:
        if not isinstance(value, dict):
            return self.fail(at, errors, f"must be an object, not {json_type(value)}")
        before = len(errors)
        for key in value.keys() - self.props.keys():
            errors.append({"pointer": pointer(at, key), "detail": "is not a known field"})
        out: dict[str, Any] = {}
        for key, prop in self.props.items():
            if key not in value:
                if prop.required:
                    errors.append({"pointer": pointer(at, key), "detail": "is required"})
                else:
                    out[key] = prop.default() if callable(prop.default) else prop.default
                continue
            with contextlib.suppress(Invalid):  # recorded in `errors`; go on to the next field
                out[key] = prop.type.check(value[key], pointer(at, key), errors)
        if len(errors) > before:
            raise Invalid(at)
        return out

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {k: p.type.schema() for k, p in self.props.items()},
            "additionalProperties": False,
        }
        if required := [k for k, p in self.props.items() if p.required]:
            out["required"] = required
        return self.describe(out)


class Arr(Type):
    def __init__(self, items: Type, max_items: int = 1000, description: str | None = None) -> None:
        self.items, self.max_items, self.description = items, max_items, description

    def check(self, value: Any, at: str, errors: Errors) -> list[Any]:
        if not isinstance(value, list):
            return self.fail(at, errors, f"must be an array, not {json_type(value)}")
        if len(value) > self.max_items:
            return self.fail(at, errors, f"must have at most {self.max_items} items")
        return [self.items.check(v, pointer(at, i), errors) for i, v in enumerate(value)]

    def schema(self) -> dict[str, Any]:
        return self.describe({"type": "array", "items": self.items.schema(), "maxItems": self.max_items})


class Described(Type):
    """A shape the API sends but never reads: described only."""

    def __init__(self, schema: dict[str, Any], description: str | None = None) -> None:
        self._schema, self.description = schema, description

    def check(self, value: Any, at: str, errors: Errors) -> Any:
        raise TypeError("described only: the API never reads this")

    def schema(self) -> dict[str, Any]:
        return self.describe(dict(self._schema))


# -- reading a request -------------------------------------------------------------
def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads would silently keep the last one
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json() -> Any:
    """The request body as JSON: UTF-8, application/json, at most MAX_BODY
    bytes, no duplicate keys, no NaN or Infinity."""
    if request.mimetype != "application/json":
        raise ApiProblem(415, "Unsupported Media Type", "Send the body as application/json.")
    request.max_content_length = MAX_BODY  # a larger body is a 413 problem
    raw = request.get_data(cache=False)
    too_deep = ApiProblem(
        400, "Malformed JSON", f"The body is nested more than {MAX_DEPTH} levels deep.", type_="malformed-json"
    )
    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise ApiProblem(400, "Malformed JSON", "The body is not UTF-8.", type_="malformed-json") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise ApiProblem(400, "Malformed JSON", str(exc), type_="malformed-json") from None
    except RecursionError:  # deeper than the parser goes
        raise too_deep from None
    if _depth(body) > MAX_DEPTH:
        raise too_deep
    return body


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed body (a scalar is 0),
    looked at level by level, without recursion."""
    depth, level = 0, [value]
    while level := [
        v for c in level if isinstance(c, (dict, list)) for v in (c.values() if isinstance(c, dict) else c)
    ]:
        depth += 1
        if depth > MAX_DEPTH:
            break
    return depth


def validate(schema: Type, value: Any) -> Any:
    errors: Errors = []
    try:
        return schema.check(value, "", errors)
    except Invalid:
        raise invalid(errors) from None
