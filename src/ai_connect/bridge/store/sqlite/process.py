"""SQLite with its writer in a process of its own: the bridge's second core (issue 13, item 5).

In one process the bridge's event loop and its store thread share one GIL, so one bridge
uses at most one core. :class:`SqliteProcessStore` keeps the reads here (mailbox pages,
history, search, tokens: the bridge's reader threads, each on its own WAL connection, as
:class:`~ai_connect.bridge.store.sqlite.SqliteStore` does) and sends every write (commits,
tokens, close: ``calls.WRITES``) to a child process (store/sqlite/child.py) that holds the
write connection. The bridge's store thread only encodes a batch, sends it and waits
(releasing the GIL) for the answer; the statements, their Python and the fsync run on the
other core.

Durability is the same: a commit returns after the child committed (``COMMIT`` in
``synchronous`` mode) and answered; the router accepts a send only then. If the child dies,
the call in flight and every later one raise :class:`~ai_connect.errors.StoreError`
(what was in flight is refused to its senders, who resend it by cid: stored once), and
:meth:`on_exit` tells the bridge, which stops (``ai-connect bridge`` exits non-zero). If the
bridge dies, the child reads the end of its stream and exits.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ai_connect.bridge.store.base import (
    CommitResult,
    DeadLetter,
    LeaseRecord,
    MailboxEntry,
    PeerRecord,
    ProposalRecord,
    Receipts,
    StoredMessage,
    TokenRecord,
    WorkRecord,
    WriteBatch,
)
from ai_connect.bridge.store.sqlite import SYNCHRONOUS_MODES, SqliteStore
from ai_connect.bridge.store.sqlite.calls import (
    Committed,
    answer_decoder,
    committed,
    decoders,
    encode,
    raise_error,
    read_frame,
    write_frame,
)
from ai_connect.errors import StoreError

__all__ = ["START_TIMEOUT_S", "SqliteProcessStore"]

START_TIMEOUT_S = 60.0
"""How long the child may take to open (and migrate) the database."""
_STOP_TIMEOUT_S = 30.0


class SqliteProcessStore:
    """A :class:`~ai_connect.bridge.store.base.Store` on one SQLite file, written by a
    child process. Same contract as :class:`SqliteStore` (tests/bridge/store)."""

    kind = "sqlite"
    commits_elsewhere = True
    """The child does a commit's work: the bridge answers the last commit while the child
    commits the next (``base.commits_elsewhere``; measured in bench/RESULTS.md: 10x10 +17 %,
    1x1 +7 %, against the same store answering first)."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}"
            )
        if str(path) == ":memory:":
            raise ValueError("a store process needs a database file, not :memory:")
        self.path = str(path)
        self._lock = threading.Lock()
        """One call at a time on the stream."""
        self._exit_lock = threading.Lock()
        self._closing = False
        """close() was called: the child's end is expected."""
        self._broken = False
        """The stream ended: every later write raises StoreError."""
        self._exited: str | None = None
        self._on_exit: list[Callable[[str], None]] = []
        ours, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "ai_connect.bridge.store.sqlite.child",
                 str(theirs.fileno()), self.path, synchronous.upper()],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except OSError as exc:
            ours.close()
            raise StoreError(
                f"Cannot start the store process for {self.path}: {exc}. "
                "Start the bridge without --store-process to write from the bridge itself."
            ) from exc
        finally:
            theirs.close()
        self._sock = ours
        try:
            self._ready()
            # The reads: this process's own WAL connections (the schema is ready by now).
            self._reads = SqliteStore(self.path, synchronous=synchronous)
        except BaseException:
            self._stop()
            raise
        self.exposed = self._reads.exposed
        self.pid = self._proc.pid
        threading.Thread(target=self._watch, name="ai-connect-store-watch", daemon=True).start()

    def _ready(self) -> None:
        self._sock.settimeout(START_TIMEOUT_S)
        try:
            frame = read_frame(self._sock)
        except TimeoutError as exc:
            raise StoreError(
                f"The store process did not open {self.path} within {START_TIMEOUT_S:g} s."
            ) from exc
        finally:
            self._sock.settimeout(None)
        if frame is None:
            raise StoreError(f"The store process for {self.path} {self._ended()} while starting.")
        status, raw = answer_decoder.decode(frame)
        if status:
            self._proc.wait(_STOP_TIMEOUT_S)
            raise_error(raw)

    # -- the child's lifetime ----------------------------------------------------------

    def on_exit(self, callback: Callable[[str], None]) -> None:
        """Calls ``callback(why)`` (from a thread) if the child ends before :meth:`close`;
        at once if it already has."""
        with self._exit_lock:
            exited = self._exited
            if exited is None:
                self._on_exit.append(callback)
        if exited is not None:
            callback(exited)

    def _watch(self) -> None:
        self._proc.wait()
        if self._closing:
            return
        why = f"the store process (pid {self._proc.pid}) {self._ended()}"
        with self._exit_lock:
            self._exited = why
            callbacks, self._on_exit = self._on_exit, []
        for callback in callbacks:
            callback(why)

    def _ended(self) -> str:
        """How the child ended: ``exited with code 1``, ``was killed by SIGKILL``."""
        try:
            code = self._proc.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed by {name}"
        return f"exited with code {code}"

    # -- writes: sent to the child -----------------------------------------------------

    def _call(self, method: str, *args: Any) -> Any:
        """Runs ``method(*args)`` in the child; its error raised here, same class."""
        codec = decoders(method)
        try:
            payload = encode((method, args))
        except (TypeError, ValueError) as exc:  # as SqliteStore: nothing of it is written
            raise StoreError(
                f"SQLite could not {method} ({self.path}): {exc}. Nothing of it was written. "
                "Store text and JSON-serialisable context only."
            ) from exc
        with self._lock:
            if self._broken or (self._closing and method != "close"):
                raise StoreError(f"The store of {self.path} is closed: open a new one.")
            try:
                write_frame(self._sock, payload)
                frame = read_frame(self._sock)
            except OSError:
                frame = None
            if frame is None:
                self._broken = True
                raise StoreError(
                    f"The store process writing {self.path} {self._ended()}; this write is "
                    "not known to be stored (its senders resend it). Restart the bridge; the "
                    "bridge log says why the process ended."
                )
        status, raw = answer_decoder.decode(frame)
        if status:
            raise_error(raw)
        return codec.result.decode(raw)

    def commit(self, batch: WriteBatch) -> CommitResult:
        """Writes the batch in one transaction, in the child (as SqliteStore.commit)."""
        if not batch:
            return CommitResult([])
        answer: Committed = self._call("commit", batch)
        return committed(batch, answer)

    def put_token(self, token: TokenRecord) -> None:
        self._call("put_token", token)

    def revoke_token(self, token_id: str, when: float) -> bool:
        revoked: bool = self._call("revoke_token", token_id, when)
        return revoked

    def close(self) -> None:
        """Lets the child close the database and end; closes the reads. Idempotent."""
        with self._exit_lock:
            if self._closing:
                return
            self._closing = True
        with contextlib.suppress(StoreError):  # it ended already: nothing to close there
            self._call("close")
        self._stop()
        self._reads.close()

    def _stop(self) -> None:
        """Ends the child: closing the stream makes it exit; killed if it does not."""
        self._closing = True
        self._sock.close()
        try:
            self._proc.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reads: in this process, as SqliteStore ----------------------------------------

    def size_bytes(self) -> int | None:
        return self._reads.size_bytes()

    def peers(self) -> list[PeerRecord]:
        return self._reads.peers()

    def pending(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int
    ) -> list[MailboxEntry]:
        return self._reads.pending(recipient, after_seq, limit, max_bytes)

    def history(
        self,
        viewer: str,
        peer: str | None,
        limit: int,
        before: int | None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        return self._reads.history(viewer, peer, limit, before, max_bytes)

    def search(
        self,
        viewer: str,
        query: str,
        limit: int,
        before: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        return self._reads.search(viewer, query, limit, before, max_bytes)

    def receipts(self, message_id: str) -> Receipts | None:
        return self._reads.receipts(message_id)

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        return self._reads.dead_letters(limit)

    def leases(self) -> list[LeaseRecord]:
        return self._reads.leases()

    def proposals(self) -> list[ProposalRecord]:
        return self._reads.proposals()

    def works(self) -> list[WorkRecord]:
        return self._reads.works()

    def tokens(self) -> list[TokenRecord]:
        return self._reads.tokens()
