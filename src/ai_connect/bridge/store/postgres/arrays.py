"""The writer's column arrays in PostgreSQL's binary format (``array_send``'s layout).

Every statement of a commit takes its rows as one array per column (batch.py), a
``%b::T[]`` parameter whose element type the SQL names. psycopg's list dumper is written
in Python and works out each list's element type and dimensions first: 120 µs of the
writer thread's CPU for the 14 one-element columns of a one-message insert here, against
3 µs for the same values as scalars. Knowing the type from the SQL, a one-dimensional
array is a header and each element's length and bytes: this module writes that, for the
five element types the writer uses, and refuses what psycopg would (text with a NUL, an
integer out of bigint's range, a value of another type).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from psycopg import DataError

__all__ = ["ArrayType", "array_type", "encode"]

_HEAD = struct.Struct(">iiiii")  # dimensions, has nulls, element oid, length, lower bound
_EMPTY = struct.Struct(">iii")  # dimensions (0), has nulls, element oid
_LENGTH = struct.Struct(">i")
_NULL = _LENGTH.pack(-1)
_INT8 = struct.Struct(">iq")
_FLOAT8 = struct.Struct(">id")
_TRUE, _FALSE = _LENGTH.pack(1) + b"\x01", _LENGTH.pack(1) + b"\x00"


def _text(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"a text column holds str, not {type(value).__name__}")
    if "\x00" in value:
        raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def _bytea(value: Any) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"a bytea column holds bytes, not {type(value).__name__}")
    data = bytes(value)
    return _LENGTH.pack(len(data)) + data


def _int8(value: Any) -> bytes:
    if not isinstance(value, int):
        raise TypeError(f"a bigint column holds int, not {type(value).__name__}")
    try:
        return _INT8.pack(8, value)
    except struct.error:
        raise DataError(f"{value} is out of range for type bigint") from None


def _float8(value: Any) -> bytes:
    if not isinstance(value, float | int) or isinstance(value, bool):
        raise TypeError(f"a float8 column holds float, not {type(value).__name__}")
    try:
        return _FLOAT8.pack(8, value)
    except (OverflowError, struct.error):  # an int beyond any float
        raise DataError(f"{value} is out of range for type double precision") from None


def _bool(value: Any) -> bytes:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    raise TypeError(f"a bool column holds bool, not {type(value).__name__}")


class ArrayType(NamedTuple):
    """A one-dimensional array of one element type."""

    oid: int
    """The array type's oid (a prepared statement's parameter type)."""
    element_oid: int
    element: Callable[[Any], bytes]
    """A value -> its length and bytes."""


_TYPES = {
    "text": ArrayType(1009, 25, _text),
    "bytea": ArrayType(1001, 17, _bytea),
    "bigint": ArrayType(1016, 20, _int8),
    "float8": ArrayType(1022, 701, _float8),
    "bool": ArrayType(1000, 16, _bool),
}


def array_type(name: str) -> ArrayType | None:
    """The one-dimensional array of SQL type ``name`` (as the writer's SQL spells it:
    text, bytea, bigint, float8, bool), or ``None`` for any other."""
    return _TYPES.get(name)


def encode(kind: ArrayType, values: Sequence[Any]) -> bytes:
    """``values`` (``None`` is NULL) as a one-dimensional array of ``kind``."""
    if not values:
        return _EMPTY.pack(0, 0, kind.element_oid)
    element = kind.element
    nulls = 0
    parts = [b""]
    for value in values:
        if value is None:
            nulls = 1
            parts.append(_NULL)
        else:
            parts.append(element(value))
    parts[0] = _HEAD.pack(1, nulls, kind.element_oid, len(values), 1)
    return b"".join(parts)
