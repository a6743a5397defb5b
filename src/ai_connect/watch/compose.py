"""What the operator types to send as a person: ``@PEER text``. Pure.

The terminal view's bottom line and, in line mode, the lines typed on stdin
(``ai-connect watch --lines --as Ada``) both take it.
"""

from __future__ import annotations

__all__ = ["parse_send"]


def parse_send(line: str) -> tuple[str, str]:
    """``@bob hi there`` -> ``("bob", "hi there")``; ``@"bob (web)" hi`` for an address
    with spaces. Raises ValueError saying how to write it."""
    how = 'write @PEER MESSAGE (@"Name (Project)" MESSAGE for a full address, @* for everyone)'
    if not line.startswith("@"):
        raise ValueError(how)
    rest = line[1:]
    if rest.startswith('"'):
        target, sep, body = rest[1:].partition('"')
        if not sep:
            raise ValueError(how)
    else:
        target, _, body = rest.partition(" ")
    target, body = target.strip(), body.strip()
    if not target or not body:
        raise ValueError(how)
    return target, body
