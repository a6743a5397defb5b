"""A real BridgeServer on 127.0.0.1:0 in a background thread, for synchronous fuzz clients."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path
from typing import Any

from ai_connect.bridge.server import BridgeServer, ServerSettings
from ai_connect.bridge.store.sqlite import SqliteStore

__all__ = ["ThreadedBridge"]


class ThreadedBridge:
    """``with ThreadedBridge(limits=...) as bridge:`` then connect to ``bridge.url``.

    The store is SQLite (the default store), in a temporary directory, with
    ``synchronous=NORMAL``: fuzzing needs its SQL paths, not its fsyncs.
    """

    def __init__(self, **settings: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-bridge")
        self.folder = tempfile.TemporaryDirectory(prefix="ai-connect-fuzz-")
        store = SqliteStore(Path(self.folder.name) / "bridge.db", synchronous="NORMAL")
        self.server = BridgeServer(store, ServerSettings(port=0, **settings))

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> ThreadedBridge:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
            self.folder.cleanup()
