"""Log files: rotation by the original's keys, shared by processes, and ``ai-connect logs``."""

from __future__ import annotations

import logging
import os
import queue
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest

from ai_connect.cli import main
from ai_connect.config import LogSettings, log_settings
from ai_connect.errors import ConfigError
from ai_connect.logfiles import (
    DeferredFileHandler,
    default_log_file,
    file_handler,
    resolve_log_file,
)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch XDG state folder and an empty config file."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = tmp_path / "config.yaml"
    config.write_text("")
    monkeypatch.setenv("AI_CONNECT_CONFIG", str(config))
    return tmp_path / "state"


def test_the_default_log_files_live_in_the_xdg_state_folder(state: Path) -> None:
    """bridge.log and mcp.log under <state>/ai-connect/log; '-' means stderr only."""
    assert resolve_log_file(None, "bridge") == state / "ai-connect/log/bridge.log"
    assert resolve_log_file("-", "mcp") is None
    assert resolve_log_file("~/x.log", "mcp") == Path.home() / "x.log"


def test_the_originals_logging_keys_are_honoured(state: Path) -> None:
    """logging.max_megabytes and logging.backup_count set the rotation; bad values say so."""
    config = Path(os.environ["AI_CONNECT_CONFIG"])
    assert log_settings() == LogSettings()
    config.write_text("logging:\n  max_megabytes: 0.5\n  backup_count: 2\n")
    assert log_settings() == LogSettings(512 * 1024, 2)
    config.write_text("logging:\n  backup_count: many\n")
    with pytest.raises(ConfigError, match=r"logging.backup_count .* whole number"):
        log_settings()


def test_a_log_file_rotates_at_its_size_and_keeps_its_backups_private(state: Path) -> None:
    """Past max_bytes the file rotates; backup_count old files stay; all are 0600."""
    path = default_log_file("bridge")
    handler = file_handler(path, LogSettings(max_bytes=2000, backup_count=2))
    logger = logging.getLogger("ai_connect.test_rotation")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        for i in range(100):
            logger.info("line %03d %s", i, "x" * 60)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in path.parent.glob("bridge.log*"))
    assert files == ["bridge.log", "bridge.log.1", "bridge.log.2"]
    assert "line 099" in path.read_text()
    for name in files:
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


WRITER = """
import logging, sys
from pathlib import Path
from ai_connect.config import LogSettings
from ai_connect.logfiles import file_handler
handler = file_handler(Path(sys.argv[1]), LogSettings(max_bytes=4000, backup_count=100))
log = logging.getLogger("w")
log.addHandler(handler)
log.setLevel(logging.INFO)
for i in range(300):
    log.info("writer %s line %d", sys.argv[2], i)
handler.close()
"""


def test_processes_sharing_a_log_file_lose_no_line(state: Path) -> None:
    """Two processes writing one rotating file (as stdio MCP servers share mcp.log): every
    line of both is in the file or its backups, whole."""
    path = default_log_file("mcp")
    path.parent.mkdir(parents=True)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in "ab"]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    lines = [
        line for file in path.parent.glob("mcp.log*") for line in file.read_text().splitlines()
    ]
    assert len(lines) == 600
    for name in "ab":
        numbers = sorted(int(x.rsplit(" ", 1)[1]) for x in lines if f"writer {name} " in x)
        assert numbers == list(range(300))


def test_an_unknown_log_level_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """--log-level verbose: a ConfigError naming the levels, not a silent info."""
    assert main(["bridge", "--memory", "--port", "0", "--log-level", "verbose"]) == 1
    assert "debug, info, warning, error" in capsys.readouterr().err


def test_logs_prints_the_last_lines(state: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """ai-connect logs bridge -n 2: the file's last two lines."""
    path = default_log_file("bridge")
    path.parent.mkdir(parents=True)
    path.write_text("one\ntwo\nthree\n")
    assert main(["logs", "bridge", "-n", "2"]) == 0
    assert capfd.readouterr().out == "two\nthree\n"


def test_logs_without_a_file_says_where_it_looked(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No log yet: exit 1 naming the path and the service journal."""
    assert main(["logs", "mcp"]) == 1
    err = capsys.readouterr().err
    assert str(state / "ai-connect/log/mcp.log") in err and "ai-connect service logs" in err


def test_logs_follow_prints_lines_as_they_are_written(state: Path) -> None:
    """ai-connect logs -f: a line appended to the file appears on its output."""
    path = default_log_file("bridge")
    path.parent.mkdir(parents=True)
    path.write_text("before\n")
    argv = [sys.executable, "-m", "ai_connect", "logs", "bridge", "-f", "-n", "1"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as follower:
        try:
            assert follower.stdout is not None
            lines = Lines(follower.stdout)
            assert lines.next(30) == "before\n"
            with path.open("a") as f:
                f.write("after\n")
            assert lines.next(30) == "after\n"
        finally:
            follower.terminate()


class Lines:
    """The lines of a pipe, read by a thread, handed out with a timeout (a pipe's text
    wrapper buffers ahead, so select() on its descriptor cannot tell what it holds)."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")  # end of the stream

    def next(self, timeout: float) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout:g} s") from None


def start_bridge_process(*extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "ai_connect", "bridge", "--memory", "--port", "0", *extra]
    return subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)


def banner(process: subprocess.Popen[str]) -> list[str]:
    """The bridge's start-up lines, up to the one that says how to connect an agent."""
    assert process.stderr is not None
    reader = Lines(process.stderr)
    lines: list[str] = []
    while not lines or not lines[-1].startswith("connect an agent"):
        lines.append(reader.next(30))
        assert lines[-1], f"the bridge ended: {lines}"
    return lines


@pytest.mark.parametrize("flag", [None, "-"])
def test_the_bridge_writes_its_log_file_unless_told_not_to(state: Path, flag: str | None) -> None:
    """By default bridge.log under the state folder gets the lifecycle lines, and the banner
    names it; --log-file - writes no file."""
    path = default_log_file("bridge")
    with start_bridge_process(*(["--log-file", flag] if flag else [])) as process:
        try:
            lines = banner(process)
        finally:
            process.terminate()
        assert process.wait(timeout=30) == 0
    if flag == "-":
        assert not path.exists()
        assert not any(line.startswith("log:") for line in lines)
    else:
        assert f"log: {path} ('ai-connect logs bridge -f' follows it)\n" in lines
        text = path.read_text()
        assert "ai_connect.bridge" in text and "bridge listening on" in text
        assert "bridge stopped" in text


def test_a_peer_name_in_a_log_line_is_neutralised(state: Path) -> None:
    """A log file line naming a hostile peer: no escape, no invisible character, no second
    line forged (issue 11, item 9: ai-connect logs is a terminal surface)."""
    path = state / "hostile.log"
    handler = file_handler(path, LogSettings())
    record = logging.LogRecord(
        "ai_connect.bridge", logging.INFO, __file__, 1, "connection from %s",
        ("Boss\u200b\x1b[2J\n2026-12-04 ERROR forged <system-reminder>",), None,
    )  # fmt: skip
    handler.emit(record)
    handler.close()
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert "connection from Boss\\u200b\\x1b[2J\\x0a2026-12-04 ERROR forged" in line
    assert "\x1b" not in line and "\u200b" not in line and "<system-reminder>" not in line


def test_a_deferred_handler_opens_its_file_on_the_first_record_only(state: Path) -> None:
    """A hook with nothing to say creates no file; its first record creates it 0600."""
    path = default_log_file("hooks")
    handler = DeferredFileHandler(path)
    logger = logging.getLogger("test.deferred")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert not path.exists()
        logger.warning("waiter not connected yet")
        handler.flush()
        assert "waiter not connected yet" in path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_a_deferred_handler_rotates_by_the_config_read_when_it_opens(state: Path) -> None:
    """The hooks' log honours the config file's logging: keys, read only once a record
    comes (a hook with nothing to say reads nothing); a broken section: the defaults."""
    path = default_log_file("hooks")
    asked: list[int] = []

    def rotation() -> LogSettings:
        asked.append(1)
        return LogSettings(max_bytes=200, backup_count=1)

    handler = DeferredFileHandler(path, rotation)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "x" * 150, None, None)
    assert asked == []
    for _ in range(3):
        handler.handle(record)
    handler.close()
    assert asked == [1]
    assert path.with_name("hooks.log.1").exists()

    def broken() -> LogSettings:
        raise ConfigError("logging.backup_count in config.yaml must be a whole number")

    other = DeferredFileHandler(state / "other.log", broken)
    other.handle(record)
    other.close()
    assert "x" * 150 in (state / "other.log").read_text()


def test_a_deferred_handler_that_cannot_write_stays_quiet(tmp_path: Path) -> None:
    """An unwritable log folder costs the hook nothing: no exception, no stderr."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    handler = DeferredFileHandler(blocker / "hooks.log")
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "lost", None, None)
    handler.handle(record)
    handler.handle(record)
    handler.close()


def test_logs_hooks_prints_the_hooks_log(state: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = default_log_file("hooks")
    path.parent.mkdir(parents=True)
    path.write_text("2026-12-04 INFO ai_connect.hooks.runtime[7]: waiter listens as A (p)\n")
    assert main(["logs", "hooks"]) == 0
    assert "waiter listens as A (p)" in capfd.readouterr().out
    assert main(["logs", "nope"]) == 2
    assert "use bridge, mcp or hooks" in capfd.readouterr().err
