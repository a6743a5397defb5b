"""Pure edits of client config files: add our entries, take exactly them out again.

Our entries are recognised by their command (``ai-connect …`` or ``python -m ai_connect
…``), never by position, so everything else in a file is left as it was. JSON files are
parsed and re-serialised (keys keep their order); TOML files are never re-serialised:
our table is appended as a marked block of text and removed as that block, so comments
and formatting elsewhere survive (``tomllib`` only checks the result).
"""

from __future__ import annotations

import copy
import json
import shlex
import tomllib
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from ai_connect.errors import ConfigError

__all__ = [
    "SERVER_KEY",
    "JsonEdit",
    "edit_json",
    "edit_toml",
    "is_our_command",
    "is_our_server",
    "put_allow",
    "put_flat_hook",
    "put_group_hook",
    "put_server",
    "remove_allow",
    "remove_flat_hooks",
    "remove_group_hooks",
    "remove_server",
    "toml_block",
]

SERVER_KEY = "ai-connect"
"""The name our MCP server is registered under in every client."""

JsonEdit = Callable[[dict[str, Any]], None]


def _argv(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _is_program(argv: list[str]) -> tuple[bool, list[str]]:
    """Whether ``argv`` starts ai-connect; returns the arguments after the program."""
    if not argv:
        return False, []
    if PurePath(argv[0]).name in ("ai-connect", "ai-connect.exe"):
        return True, argv[1:]
    for i in range(len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] == "ai_connect":
            return True, argv[i + 2 :]
    return False, []


FRONT_FILE = ("ai_connect", "leases", "front.py")
"""The pre-edit hook's front, run as a file: ``python -I -S …/ai_connect/leases/front.py``."""


def is_our_command(command: object) -> bool:
    """A hook command we installed: ``<ai-connect> hook …``, or the pre-edit front."""
    if not isinstance(command, str):
        return False
    argv = _argv(command)
    if any(PurePath(a).parts[-3:] == FRONT_FILE for a in argv[:4]):
        return True
    ours, rest = _is_program(argv)
    return ours and bool(rest) and rest[0] == "hook"


def is_our_server(entry: object) -> bool:
    """An MCP server entry that runs ``<ai-connect> mcp``."""
    if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
        return False
    args = entry.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return False
    ours, rest = _is_program([entry["command"], *args])
    return ours and "mcp" in rest


# --- JSON -------------------------------------------------------------------------------


def edit_json(text: str | None, where: str, *edits: JsonEdit) -> str | None:
    """Applies ``edits`` to the JSON object in ``text``; ``None`` text is an absent file.

    Returns ``text`` itself when nothing changed, else the new text (2-space indent).
    Raises :class:`ConfigError` for a file that is not a JSON object: nothing is written.
    """
    if text is None or not text.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(
                f"{where} is not valid JSON ({exc}); fix it first: nothing was changed"
            ) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must hold a JSON object; nothing was changed")
    new = copy.deepcopy(data)
    try:
        for edit in edits:
            edit(new)
    except ConfigError as exc:  # a value of the wrong shape: say which file, change none
        raise ConfigError(f"{where}: {exc}; fix it first: nothing was changed") from exc
    if new == data and text is not None:
        return text
    return json.dumps(new, indent=2, ensure_ascii=False) + "\n"


def _section(data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = data.setdefault(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be an object" + (f" in {where}" if where else ""))
    return value


def _prune(data: dict[str, Any], *keys: str) -> None:
    """Removes ``data[keys[0]]…`` containers left empty, innermost first."""
    chain = [data]
    for key in keys[:-1]:
        inner = chain[-1].get(key)
        if not isinstance(inner, dict):
            return
        chain.append(inner)
    for container, key in reversed(list(zip(chain, keys, strict=True))):
        if container.get(key) in ({}, []):
            del container[key]


def put_server(section: str, entry: dict[str, Any]) -> JsonEdit:
    """Registers our MCP server as ``data[section]["ai-connect"]``."""

    def edit(data: dict[str, Any]) -> None:
        servers = _section(data, section)
        current = servers.get(SERVER_KEY)
        if current is not None and not is_our_server(current):
            raise ConfigError(
                f"an MCP server named {SERVER_KEY!r} that is not ai-connect is registered "
                f"under {section!r}; rename it, then run setup again"
            )
        servers[SERVER_KEY] = entry

    return edit


def remove_server(section: str) -> JsonEdit:
    def edit(data: dict[str, Any]) -> None:
        servers = data.get(section)
        if isinstance(servers, dict) and is_our_server(servers.get(SERVER_KEY)):
            del servers[SERVER_KEY]
            _prune(data, section)

    return edit


def _ours(hook: object) -> bool:
    return isinstance(hook, dict) and is_our_command(hook.get("command"))


def put_group_hook(event: str, *hooks: dict[str, Any], matcher: str | None = None) -> JsonEdit:
    """Claude Code / Codex / Gemini CLI: ``hooks[event] = [{matcher?, hooks: [...]}]``."""
    group: dict[str, Any] = {"hooks": list(hooks)}
    if matcher is not None:
        group = {"matcher": matcher, "hooks": list(hooks)}

    def edit(data: dict[str, Any]) -> None:
        groups = _section(data, "hooks").setdefault(event, [])
        if not isinstance(groups, list):
            raise ConfigError(f"hooks.{event} must be a list")
        for number, g in enumerate(groups):
            if isinstance(g, dict) and not isinstance(g.get("hooks") or [], list):
                raise ConfigError(f"hooks.{event}[{number}].hooks must be a list")
        mine = [h for g in groups if isinstance(g, dict) for h in g.get("hooks") or [] if _ours(h)]
        if group in groups and len(mine) == len(hooks):
            return  # already there, exactly as we want it
        remove_group_hooks(event)(data)
        _section(data, "hooks").setdefault(event, []).append(copy.deepcopy(group))

    return edit


def remove_group_hooks(event: str) -> JsonEdit:
    def edit(data: dict[str, Any]) -> None:
        hooks = data.get("hooks")
        groups = hooks.get(event) if isinstance(hooks, dict) else None
        if not isinstance(groups, list):
            return
        kept = []
        for group in groups:
            inner = group.get("hooks") if isinstance(group, dict) else None
            if isinstance(inner, list) and any(_ours(h) for h in inner):
                group = {**group, "hooks": [h for h in inner if not _ours(h)]}
                if not group["hooks"]:
                    continue  # a group of ours only: it goes with them
            kept.append(group)
        hooks[event] = kept  # type: ignore[index]
        _prune(data, "hooks", event)

    return edit


def put_flat_hook(event: str, hook: dict[str, Any]) -> JsonEdit:
    """Cursor: ``{"version": 1, "hooks": {event: [hook, …]}}``."""

    def edit(data: dict[str, Any]) -> None:
        data.setdefault("version", 1)
        entries = _section(data, "hooks").setdefault(event, [])
        if not isinstance(entries, list):
            raise ConfigError(f"hooks.{event} must be a list")
        if hook in entries and sum(1 for h in entries if _ours(h)) == 1:
            return
        entries[:] = [h for h in entries if not _ours(h)] + [copy.deepcopy(hook)]

    return edit


def remove_flat_hooks(event: str) -> JsonEdit:
    def edit(data: dict[str, Any]) -> None:
        hooks = data.get("hooks")
        entries = hooks.get(event) if isinstance(hooks, dict) else None
        if isinstance(entries, list):
            entries[:] = [h for h in entries if not _ours(h)]
            _prune(data, "hooks", event)
            if set(data) == {"version"}:
                del data["version"]  # nothing of the file is left but what we added

    return edit


def put_allow(rules: list[str], ours: frozenset[str]) -> JsonEdit:
    """Claude Code: ``permissions.allow`` holds exactly ``rules`` among ``ours``.

    Rules of ours not wanted any more go (a later ``--ask-before-send``); every other
    rule in the list stays where it is.
    """

    def edit(data: dict[str, Any]) -> None:
        allow = _section(data, "permissions").setdefault("allow", [])
        if not isinstance(allow, list):
            raise ConfigError("permissions.allow must be a list")
        kept = [r for r in allow if r not in ours or r in rules]
        kept += [r for r in rules if r not in kept]
        allow[:] = kept
        _prune(data, "permissions", "allow")

    return edit


def remove_allow(ours: frozenset[str]) -> JsonEdit:
    def edit(data: dict[str, Any]) -> None:
        permissions = data.get("permissions")
        allow = permissions.get("allow") if isinstance(permissions, dict) else None
        if isinstance(allow, list):
            allow[:] = [r for r in allow if r not in ours]
            _prune(data, "permissions", "allow")

    return edit


# --- TOML -------------------------------------------------------------------------------

_BEGIN = "# >>> ai-connect: added by 'ai-connect setup'; '--uninstall' removes this block"
_END = "# <<< ai-connect"


def _toml_string(value: str) -> str:
    # A TOML basic string accepts the same escapes json.dumps writes (\" \\ \n \uXXXX).
    return json.dumps(value, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_string(str(v)) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _toml_string(str(value))


def _toml_tables(table: str, values: dict[str, Any]) -> list[str]:
    lines = [f"[{table}]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
    for key, value in values.items():
        if isinstance(value, dict):
            lines += _toml_tables(f"{table}.{key}", value)
    return lines


def toml_block(table: str, values: dict[str, Any]) -> str:
    """Our marked block defining ``[table]``: strings, integers, booleans, string lists,
    and dicts of such values as sub-tables (``[table.key]``, ``[table.key.sub]``)."""
    return "\n".join([_BEGIN, *_toml_tables(table, values), _END]) + "\n"


def _parse_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{where} is not valid TOML ({exc}); fix it first: nothing was changed"
        ) from exc


def _without_block(text: str) -> str:
    start = text.find(_BEGIN)
    if start < 0:
        return text
    end = text.find(_END, start)
    end = len(text) if end < 0 else end + len(_END)
    if text[end : end + 1] == "\n":
        end += 1
    head = text[:start]
    if head.endswith("\n\n"):
        head = head[:-1]  # the blank line we put before the block
    return head + text[end:]


def edit_toml(text: str | None, where: str, path: tuple[str, ...], block: str | None) -> str | None:
    """Puts ``block`` (or, with ``None``, removes ours) for the table at ``path``.

    Returns ``text`` itself when nothing changes. A table at ``path`` that we did not
    write is left alone; a result that would not parse is refused with ConfigError.
    """
    current = text or ""
    data = _parse_toml(current, where)
    base = _without_block(current)
    if block is None:
        return text if base == current else base
    existing: Any = data
    for key in path:
        existing = existing.get(key) if isinstance(existing, dict) else None
    wanted = _parse_toml(block, "our block")
    for key in path:
        wanted = wanted[key]
    if existing == wanted:
        return text
    if existing is not None and base == current:
        raise ConfigError(
            f"{where} already defines [{'.'.join(path)}] by hand; edit or remove it, then "
            "run setup again"
        )
    if base and not base.endswith("\n"):
        base += "\n"
    new = base + ("\n" if base else "") + block
    _parse_toml(new, f"{where} with our [{'.'.join(path)}] added")
    return new
