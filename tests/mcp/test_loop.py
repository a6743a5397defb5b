"""The event loop ``ai-connect mcp`` serves on: uvloop's where it is installed (a tool
call's server side costs less there: bench/mcp_bench.py), asyncio's otherwise; and
uvicorn's HTTP parser, httptools."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import uvloop
from starlette.applications import Starlette

import ai_connect.mcp.run as mcp_run
from ai_connect.config import ClientSettings

OWN = ClientSettings(url="ws://127.0.0.1:1", name="loopy", project="p")


def _served_on(monkeypatch: pytest.MonkeyPatch, transport: str) -> type[asyncio.AbstractEventLoop]:
    """The class of the running loop ``run(transport)`` hands its server to."""
    seen: list[type[asyncio.AbstractEventLoop]] = []

    async def serve(*args: Any, **kwargs: Any) -> None:
        seen.append(type(asyncio.get_running_loop()))

    monkeypatch.setattr(mcp_run, "serve_http", serve)
    monkeypatch.setattr(mcp_run, "serve_stdio", serve)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    mcp_run.run(transport, own=OWN, port=0)
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("transport", ["stdio", "http", "sse"])
def test_serves_on_uvloop_where_it_is_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, transport: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert issubclass(_served_on(monkeypatch, transport), uvloop.Loop)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_serves_on_asyncio_without_uvloop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, transport: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    loop = _served_on(monkeypatch, transport)
    assert not issubclass(loop, uvloop.Loop)
    assert issubclass(loop, asyncio.BaseEventLoop)


def test_http_parses_with_httptools() -> None:
    """uvicorn takes httptools (a dependency) for the HTTP server, not h11."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from ai_connect.mcp.http import uvicorn_config

    config = uvicorn_config(Starlette())
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
