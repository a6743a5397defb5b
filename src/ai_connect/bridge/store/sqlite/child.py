"""The store process: ``python -m ai_connect.bridge.store.sqlite.child FD DB SYNCHRONOUS``.

Started by :class:`~ai_connect.bridge.store.sqlite.process.SqliteProcessStore` (never by
hand). It opens the database (migrations run here), answers ``[0, null]`` once ready, then
carries out the bridge's writes one at a time (store/sqlite/calls.py) until the bridge
sends ``close`` or goes away (end of stream: the bridge ended, even by kill -9); between
them, when no call waits, the store's ``upkeep`` (the search index, search_index.py). It
ignores SIGINT and SIGTERM: a Ctrl-C or a service stop reaches the whole process group,
and the bridge, not this process, decides when the last batch is written.
"""

from __future__ import annotations

import logging
import select
import signal
import socket
import sys

from ai_connect.bridge.collection import collect_young_less_often
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.calls import (
    Committed,
    call_decoder,
    decoders,
    encode,
    encode_error,
    read_frame,
    write_frame,
)

__all__ = ["main", "serve"]


def _idle(sock: socket.socket, store: SqliteStore) -> None:
    """Until the next call arrives (or the stream ends): ``store.upkeep()`` when due."""
    wait: float | None = 0.0
    while wait is not None:
        if select.select([sock], [], [], wait)[0]:
            return
        wait = store.upkeep()


def serve(sock: socket.socket, store: SqliteStore) -> None:
    """Answers the bridge's calls until it sends ``close`` or closes the stream."""
    try:
        while True:
            _idle(sock, store)
            if (frame := read_frame(sock)) is None:
                return
            method, raw = call_decoder.decode(frame)
            try:
                args = decoders(method).args.decode(raw)
                result = getattr(store, method)(*args)
                if method == "commit":
                    result = Committed.of(result)
            except Exception as exc:  # carried back to the bridge, raised there
                write_frame(sock, encode_error(exc))
            else:
                write_frame(sock, encode((0, result)))
            if method == "close":
                return
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    fd, db, synchronous = (sys.argv[1:] if argv is None else argv)[:3]
    collect_young_less_often()  # (bridge/collection.py)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.disable(logging.WARNING)  # the bridge's own reading store logs the same
    with socket.socket(fileno=int(fd)) as sock:
        try:
            store = SqliteStore(db, synchronous=synchronous)
        except Exception as exc:
            write_frame(sock, encode_error(exc))
            return 1
        write_frame(sock, encode((0, None)))
        serve(sock, store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
