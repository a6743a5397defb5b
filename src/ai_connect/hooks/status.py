"""A hook's part in the work status (docs/hooks.md "Work status"): hand, else publish.

Every hook run that says something about its session's work (an event with an activity,
or an edit tool's call) builds an :class:`~ai_connect.work_status.observe.Observation`
and hands it to its session's MCP server over the local link (well under a millisecond,
no bridge connection: the server reads git and publishes). Without such a server, the
hook publishes itself, on the connection it opened for the mail check anyway, keeping
the session's tracker in a private file between runs. ``status.publish: false`` (or
``AI_CONNECT_STATUS=off``) turns all of it off; a broken ``status:`` section too, said
once on stderr (a hook never breaks its agent).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

from ai_connect.client import BridgeClient
from ai_connect.errors import BridgeError
from ai_connect.hooks import agent_link
from ai_connect.hooks.contracts import HookInput
from ai_connect.hooks.slots import key
from ai_connect.work_status.link import hand_over
from ai_connect.work_status.observe import Observation, observe
from ai_connect.work_status.settings import StatusSettings, status_settings

__all__ = ["hand", "publish"]


def _settings(env: Mapping[str, str]) -> StatusSettings:
    try:
        return status_settings(env)
    except BridgeError:  # ConfigError: the hook carries on without a status
        return StatusSettings(publish=False)


async def hand(
    hook: HookInput, env: Mapping[str, str], sock: str | None, human: bool
) -> Observation | None:
    """Hands this run's Observation to the session's MCP server listening on ``sock``;
    returns it when nobody took it (publish it with :func:`publish`), else ``None``.
    ``human``: the prompt of this event is a person's (a task summary may quote it)."""
    settings = _settings(env)
    if not settings.publish:
        return None
    prompt = hook.raw.get("prompt") if settings.task_summary and human else None
    observation = observe(hook, prompt if isinstance(prompt, str) else None)
    if observation is None:
        return None
    if sock is not None and await hand_over(Path(sock), observation):
        return None
    return observation


async def publish(
    client: BridgeClient, hook: HookInput, env: Mapping[str, str], observation: Observation | None
) -> None:
    """Publishes ``observation`` on the hook's own ``client`` (no MCP server took it)."""
    if observation is None or not client.connected:
        return
    # Imported here: only this fallback reads git in the hook; handing over needs none of it.
    from ai_connect.work_status.publisher import publish_once

    folder = agent_link.private_dir(agent_link.private_dir(agent_link.runtime_dir(env)) / "h")
    state = folder / f"s-{key(hook.client, hook.session or str(hook.cwd))}.json"
    with contextlib.suppress(BridgeError):
        await publish_once(client, observation, _settings(env), state)
