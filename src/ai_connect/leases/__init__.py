"""Advisory file leases across machines (issue 15, docs/leases.md).

A peer claims repo-relative paths or globs of one repository (its identity:
:mod:`ai_connect.repo_identity`) for a while; the bridge keeps the leases
(:mod:`ai_connect.bridge.leases`), and a pre-edit hook tells a model before it edits a
path someone else holds.

::

    rules.py   pure: path and glob rules, overlap, TTLs (the bridge and every surface)
    front.py   the pre-edit hook's quick front: standard library only, asks the
               session's MCP server (its lease link) before anything heavy loads
    link.py    the MCP server's side of that link: a Unix socket answering checks

This package's ``__init__`` imports nothing: the hook front must start in milliseconds.
"""

__all__: list[str] = []
