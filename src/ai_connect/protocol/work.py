"""Work status: what an agent session is doing, published by its hooks (docs/protocol.md §11).

The shape is shared by the ``work`` frame a client sends (:class:`Work`) and the view the
bridge shows in ``peers`` and the observers' feed (:class:`WorkView`, with the time the
bridge stored it). Paths are repository-relative: an absolute path, or one that climbs out
of the repository (``..``), is refused here, so that nothing from outside a checkout
travels, whatever a client sends.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from ai_connect.protocol.frame import Frame

__all__ = ["MAX_WORK_FILES", "Activity", "Work", "WorkFields", "WorkView"]

MAX_WORK_FILES = 10
"""Recently edited files a status carries, newest first."""

Activity = Literal["working", "idle", "waiting"]
"""``working``: a turn runs (a prompt came, tools run); ``idle``: the turn ended, the
session waits for its user or for mail; ``waiting``: its model waits for a peer
(``peer_wait``)."""

_Path = Annotated[str, Field(min_length=1, max_length=300)]


class WorkFields(Frame):
    """A session's work status: repository, branch, commit, edits, activity, task."""

    repo: str | None = Field(default=None, max_length=200)
    """The repository identity (``github.com/org/app``, else ``local/<name>``); absent
    outside a git checkout."""
    branch: str | None = Field(default=None, max_length=200)
    """The checked-out branch; absent on a detached HEAD."""
    head: str | None = Field(default=None, max_length=64)
    """The HEAD commit, short."""
    dirty: int = Field(default=0, ge=0, le=1_000_000)
    """Changed and untracked files in the checkout."""
    files: list[_Path] = Field(default_factory=list, max_length=MAX_WORK_FILES)
    """Files the session edited recently, repository-relative, newest first."""
    activity: Activity = "working"
    task: str | None = Field(default=None, max_length=200)
    """A one-line task summary, only where its user opted in (``status.task_summary``)."""

    @field_validator("files")
    @classmethod
    def _relative(cls, files: list[str]) -> list[str]:
        for path in files:
            parts = path.replace("\\", "/").split("/")
            if path.startswith(("/", "\\", "~")) or ":" in parts[0] or ".." in parts:
                raise ValueError(f"files must be repository-relative paths, not {path!r}")
            if any(ord(c) < 32 for c in path):
                raise ValueError("files must not hold control characters")
        return files

    def fields(self) -> WorkFields:
        """Only the status (a :class:`Work` frame or a view without its type and time)."""
        return WorkFields.model_validate(self.model_dump(include=set(WorkFields.model_fields)))


class Work(WorkFields):
    """Publishes the sender's work status (§11); no reply unless it is refused."""

    type: Literal["work"] = "work"


class WorkView(WorkFields):
    """A peer's last published work status, as ``peers`` and the feed show it (§11)."""

    ts: float
    """When the bridge stored it."""
