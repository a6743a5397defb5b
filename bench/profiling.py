"""Summaries of py-spy ``--format raw`` recordings: the functions that bound a run.

A raw recording is one line per distinct stack, ``frame;frame;...;frame COUNT``, root
first, each frame ``function (path:line)``. Idle samples (a thread blocked in epoll or on
a lock) are not recorded, so shares are of the time the bridge was busy; a thread waiting
to take the GIL back counts as busy in the function that released it (``select``,
``ThreadPoolExecutor.submit``, sqlite3 calls).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

__all__ = ["summarise"]

_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
_WORKER_ROOT = "threading.py"  # a worker thread's stack starts in Thread._bootstrap


def _key(frame: str) -> str:
    """``path/tail.py:function`` (line numbers folded, long paths cut to two parts)."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match.group("path")
    for marker in ("site-packages/", "src/", "lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "lib/python3.":
                path = "stdlib/" + path.split("/", 1)[-1]
            break
    return f"{path}:{match.group('func')}"


def summarise(path: Path, top: int = 12) -> str:
    """Per thread role: the top functions by self time and by inclusive time.

    Shares are of all busy samples of the bridge (both threads). Frames that nearly every
    sample of a role passes through (the event loop, the worker's run loop, typer) are
    left out of the inclusive list: they say nothing about what bounds a run.
    """
    roles: dict[str, tuple[Counter[str], Counter[str]]] = {}
    samples: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        count = int(count_text)
        role = "store worker thread" if _WORKER_ROOT in frames[0] else "event loop"
        own, inclusive = roles.setdefault(role, (Counter(), Counter()))
        keys = [_key(f) for f in frames]
        own[keys[-1]] += count
        for key in set(keys):
            inclusive[key] += count
        samples[role] += count
        total += count
    if not total:
        return f"(no samples in {path})"
    lines = [f"py-spy: {total} busy samples at 250 Hz in {path}"]
    for role, n in samples.most_common():
        own, inclusive = roles[role]
        lines.append(f"  {role}: {100 * n / total:.1f}% of busy samples")
        lines.append("    self time:")
        lines += [f"      {100 * c / total:5.1f}%  {k}" for k, c in own.most_common(top)]
        lines.append("    inclusive time:")
        telling = [(k, c) for k, c in inclusive.most_common() if c < 0.9 * n][:top]
        lines += [f"      {100 * c / total:5.1f}%  {k}" for k, c in telling]
    return "\n".join(lines)
