"""Whether a session publishes its work status, and whether with a task summary.

``status.publish`` (default true) and ``status.task_summary`` (default false) in the
config file (:mod:`ai_connect.config`); ``AI_CONNECT_STATUS=off`` (or ``on``) overrides
``publish`` for the processes that see it (hooks always do; docs/security.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ai_connect.config import config_path, load_file
from ai_connect.errors import ConfigError

__all__ = ["StatusSettings", "status_settings"]

_OFF = ("0", "off", "false", "no")
_ON = ("1", "on", "true", "yes")


@dataclass(frozen=True, slots=True)
class StatusSettings:
    publish: bool = True
    """Publish the work status at all (``status.publish``)."""
    task_summary: bool = False
    """Add the first line of the user's latest prompt, redacted (``status.task_summary``)."""


def _flag(section: Mapping[str, object], key: str, default: bool, where: str) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"status.{key} in {where} must be true or false, not {value!r}")
    return value


def status_settings(env: Mapping[str, str] | None = None) -> StatusSettings:
    """The status switches: ``AI_CONNECT_STATUS`` > the config file's ``status:`` > defaults."""
    env = os.environ if env is None else env
    path = config_path(env)
    section = load_file(path).get("status") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"'status' in {path} must be a mapping (publish:, task_summary:)")
    publish = _flag(section, "publish", True, str(path))
    task = _flag(section, "task_summary", False, str(path))
    override = env.get("AI_CONNECT_STATUS", "").strip().lower()
    if override in _OFF:
        publish = False
    elif override in _ON:
        publish = True
    elif override:
        raise ConfigError(f"AI_CONNECT_STATUS must be on or off, not {override!r}")
    return StatusSettings(publish, task and publish)
