"""A session's work status, built from the Observations of its hooks (pure).

:class:`Tracker` keeps what the hooks told: the files the session edited (repository-
relative, newest first, at most ``MAX_WORK_FILES``), its activity, and the task summary
if its user opted in. :meth:`Tracker.status` adds what git says (:mod:`.git`) and gives
the ``WorkFields`` to publish. A file outside the repository (absolute, or through
``..``, or in another checkout) is never kept: nothing from outside the repo is shown.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ai_connect.protocol import MAX_WORK_FILES, Activity, WorkFields
from ai_connect.redaction import redact
from ai_connect.work_status.observe import Observation

__all__ = ["TASK_CHARS", "GitState", "Tracker", "relative_path", "task_summary"]

TASK_CHARS = 100
"""A task summary is cut here (with ``…``)."""

_SECRET = re.compile(
    r"(?i)\b(?:sk|pk|rk|ghp|gho|ghs|ghu|github_pat|xox[abpr]|glpat|AKIA)[-_A-Za-z0-9]{12,}"
    r"|(?i:(?:password|passwd|secret|token|api[_-]?key)\s*[=:]\s*)\S+"
)


@dataclass(frozen=True, slots=True)
class GitState:
    """What ``git status`` says of a checkout."""

    branch: str | None
    """``None`` on a detached HEAD."""
    head: str | None
    """The short HEAD commit; ``None`` before the first commit."""
    dirty: int


def task_summary(prompt: str) -> str | None:
    """The first non-empty line of ``prompt``, secrets hidden, cut to ``TASK_CHARS``."""
    line = next((x.strip() for x in prompt.splitlines() if x.strip()), "")
    if not line:
        return None
    line = _SECRET.sub("***", redact(line))
    line = "".join(c if c.isprintable() else " " for c in line)
    return line if len(line) <= TASK_CHARS else line[: TASK_CHARS - 1].rstrip() + "…"


def relative_path(path: str, cwd: Path | None, root: Path) -> str | None:
    """``path`` relative to the repository ``root`` (``/``-separated), ``None`` if outside."""
    given = Path(path).expanduser()
    if not given.is_absolute():
        if cwd is None:
            return None
        given = cwd / given
    full = Path(os.path.realpath(given))
    try:
        relative = full.relative_to(root)
    except ValueError:
        return None
    text = PurePosixPath(*relative.parts).as_posix()
    return None if text in ("", ".") else text


@dataclass(slots=True)
class Tracker:
    """What the hooks told about one session, kept between them."""

    files: list[str] = field(default_factory=list)
    """Repository-relative, newest first."""
    activity: Activity = "idle"
    task: str | None = None
    waiting: bool = False
    """Its model waits in ``peer_wait``: shown as ``waiting`` over any other activity."""

    def apply(self, observation: Observation, root: Path | None) -> None:
        """Takes in one hook's Observation; ``root``: the session's repository, if any."""
        if observation.activity is not None:
            self.activity = observation.activity
        if observation.prompt is not None:
            self.task = task_summary(observation.prompt) or self.task
        if root is None:
            return
        cwd = Path(observation.cwd) if observation.cwd else None
        for path in observation.files:
            relative = relative_path(path, cwd, root)
            if relative is None:
                continue
            if relative in self.files:
                self.files.remove(relative)
            self.files.insert(0, relative)
        del self.files[MAX_WORK_FILES:]

    def status(self, repo: str | None, git: GitState | None, task: bool = False) -> WorkFields:
        """The status to publish (``task``: with the summary, where the user opted in)."""
        return WorkFields(
            repo=repo,
            branch=git.branch if git else None,
            head=git.head if git else None,
            dirty=git.dirty if git else 0,
            files=list(self.files) if repo is not None else [],
            activity="waiting" if self.waiting else self.activity,
            task=self.task if task else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "activity": self.activity, "task": self.task}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tracker:
        """A tracker saved by :meth:`as_dict`; a damaged one starts afresh."""
        files = data.get("files")
        activity = data.get("activity")
        task = data.get("task")
        return cls(
            [f for f in files if isinstance(f, str)][:MAX_WORK_FILES]
            if isinstance(files, list)
            else [],
            activity if activity in ("working", "idle", "waiting") else "idle",
            task if isinstance(task, str) else None,
        )
