"""The four benchmarks of issue 2 point 11, each against a fresh bridge process.

Each returns :class:`Row` figures. Definitions (bench/README.md):

- latency: one sender, one receiver, sequential; time from writing ``send`` to the
  receiver reading its ``deliver`` (one process, one clock). 200 B bodies.
- throughput: N senders each pipelining up to ``window`` unaccepted sends to its own
  receiver, which acks cumulatively every ``ack_every`` deliveries or when idle;
  msg/s = messages delivered *and* acked (last ack confirmed) / elapsed.
- broadcast: N receivers online, one ``*`` send; time until the last has its
  ``deliver``. Then every receiver acks and the round waits for all acks to be
  confirmed; median of the rounds.
- register: N connections that hello and stay idle; total time and bridge RSS per peer.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from harness import BridgeOptions, BridgeProcess, CpuMeter, raise_nofile
from wire import BenchFailure, Frame, Peer, first, open_peer

__all__ = ["Row", "backlog", "broadcast", "latency", "register", "throughput"]

PROJECT = "bench"
BODY_BYTES = 200


@dataclass(frozen=True, slots=True)
class Row:
    bench: str
    figure: str
    value: float
    unit: str
    target: str = ""
    original: str = ""
    ok: bool | None = None
    """Against the target; ``None`` when there is none."""

    def shown(self) -> str:
        if self.unit == "ms":
            return f"{self.value:,.2f} ms"
        if self.unit == "s":
            return f"{self.value:,.2f} s"
        if self.unit in ("KB", "MB", "%"):
            return f"{self.value:,.1f} {self.unit}"
        return f"{self.value:,.0f} {self.unit}"


_VOCABULARY = (
    "agent bridge review test patch branch merge commit deploy build cache config "
    "context decision error fix flaky function handler index issue lint mailbox message "
    "module peer pipeline protocol query queue refactor release retry router schema "
    "search server session socket store thread timeout token trace type update worker"
)
_WORDS = _VOCABULARY.split()


def _tail(k: int) -> str:
    """Prose-like text (the search index sees ~25 words per message, as with real notes)."""
    words, n = [], k
    while sum(len(w) + 1 for w in words) < BODY_BYTES:
        n = (n * 1103515245 + 12345) % 2**31
        words.append(_WORDS[n % len(_WORDS)])
    return " ".join(words)


_TAILS = [_tail(k) for k in range(64)]


def body(i: int) -> str:
    """A 200-byte ASCII body that starts with its index (order checks)."""
    head = f"{i:08d} "
    return (head + _TAILS[i % len(_TAILS)])[:BODY_BYTES]


def _crash() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


def _cpu_rows(bench: str, meter: CpuMeter, messages: int = 0) -> list[Row]:
    use = meter.used()
    rows = [
        Row(bench, "bridge CPU (% of one core)", 100 * use.bridge / use.wall, "%"),
        Row(bench, "  of which its event loop thread", 100 * use.bridge_loop / use.wall, "%"),
        Row(bench, "bridge runnable, waiting for a CPU", 100 * use.bridge_waiting / use.wall, "%"),
        Row(bench, "load generator CPU (% of one core)", 100 * use.generator / use.wall, "%"),
    ]
    if messages:
        rows += [
            Row(bench, "bridge CPU per message", 1e6 * use.bridge / messages, "µs"),
            Row(bench, "  of which event loop", 1e6 * use.bridge_loop / messages, "µs"),
            Row(bench, "  of which store thread", 1e6 * use.bridge_store / messages, "µs"),
            Row(bench, "  of which store process", 1e6 * use.bridge_child / messages, "µs"),
        ]
    return rows


def _fail_on_error(peer: Peer) -> None:
    def on_error(frame: Frame) -> None:
        peer.fail(f"{peer.address} got {frame}")

    peer.handlers["error"] = on_error


async def _open_many(
    url: str, names: list[str], crash: asyncio.Future[None], concurrency: int = 64
) -> list[Peer]:
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str) -> Peer:
        async with gate:
            return await open_peer(url, name, PROJECT, crash, timeout=60)

    return list(await first(asyncio.gather(*(one(n) for n in names)), crash, 600))


def _close_all(peers: list[Peer]) -> None:
    for peer in peers:
        peer.abort()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


# --- latency ------------------------------------------------------------------------


async def latency(options: BridgeOptions, samples: int = 2000, warmup: int = 200) -> list[Row]:
    async with BridgeProcess(options, "latency") as bridge:
        crash = _crash()
        sender = await open_peer(bridge.url, "lat-sender", PROJECT, crash)
        receiver = await open_peer(bridge.url, "lat-receiver", PROJECT, crash)
        try:
            return await _latency(bridge, sender, receiver, samples, warmup)
        finally:
            _close_all([sender, receiver])


async def _latency(
    bridge: BridgeProcess, sender: Peer, receiver: Peer, samples: int, warmup: int
) -> list[Row]:
    loop = asyncio.get_running_loop()
    crash = sender.crash
    waits: dict[str, asyncio.Future[Any]] = {}

    def on_deliver(frame: Frame) -> None:
        arrived = time.perf_counter()
        receiver.queue({"type": "ack", "seq": frame["seq"]})  # leaves after this read
        waits["deliver"].set_result((arrived, frame))

    def on_accepted(frame: Frame) -> None:
        waits["accepted"].set_result(frame)

    receiver.handlers["deliver"] = on_deliver
    sender.handlers["accepted"] = on_accepted
    _fail_on_error(sender)
    _fail_on_error(receiver)
    results: list[float] = []
    meter = CpuMeter(bridge)
    for i in range(warmup + samples):
        if i == warmup:
            meter = CpuMeter(bridge)
        text = body(i)
        waits["deliver"] = loop.create_future()
        waits["accepted"] = loop.create_future()
        sent = time.perf_counter()
        frame = {"type": "send", "rid": i, "cid": f"l{i}", "to": receiver.address, "body": text}
        sender.send(frame)
        arrived, frame = await first(waits["deliver"], crash, 10)
        await first(waits["accepted"], crash, 10)
        if frame["body"] != text:
            raise BenchFailure(f"delivered {frame['body'][:20]!r}, expected {text[:20]!r}")
        if i >= warmup:
            results.append(arrived - sent)
    ms = [r * 1000 for r in results]
    name = "latency 1→1"
    return [
        Row(name, "samples", len(ms), "msgs"),
        Row(name, "p50", _pct(ms, 50), "ms", "≤ 1 ms", "3.55 ms", _pct(ms, 50) <= 1.0),
        Row(name, "p95", _pct(ms, 95), "ms"),
        Row(name, "p99", _pct(ms, 99), "ms", "≤ 5 ms", "12.6 ms", _pct(ms, 99) <= 5.0),
        Row(name, "max", max(ms), "ms"),
        Row(name, "mean", statistics.fmean(ms), "ms"),
        *_cpu_rows(name, meter, len(ms)),
    ]


# --- throughput ---------------------------------------------------------------------


class _Sender:
    """Pipelines ``count`` sends, keeping at most ``window`` unaccepted."""

    def __init__(self, peer: Peer, to: str, window: int) -> None:
        self.peer, self.to, self.window = peer, to, window
        self.count = self.sent = self.accepted = 0
        self.prefix = ""
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        peer.raw_handlers[b"accepted"] = self._on_accepted
        peer.after_batch = self.pump
        _fail_on_error(peer)
        self.head = ""

    def start(self, count: int, prefix: str) -> None:
        self.count, self.sent, self.accepted, self.prefix = count, 0, 0, prefix
        self.head = '{"type":"send","to":' + json.dumps(self.to) + ',"cid":"' + prefix
        self.done = asyncio.get_running_loop().create_future()
        self.pump()
        self.peer.flush()

    def pump(self) -> None:
        room = min(self.count - self.sent, self.window - (self.sent - self.accepted))
        queue, head = self.peer.queue_text, self.head
        for i in range(self.sent, self.sent + max(0, room)):
            # Preformatted JSON (bodies are plain ASCII words): no encoder per frame.
            queue(f'{head}{i}","rid":{i},"body":"{body(i)}"}}'.encode())
        self.sent += max(0, room)

    def _on_accepted(self, data: bytes) -> None:
        self.accepted += 1
        if self.accepted == self.count:
            self.done.set_result(None)


class _Receiver:
    """Counts deliveries in order; acks every ``ack_every`` or when the link goes idle."""

    def __init__(self, peer: Peer, ack_every: int) -> None:
        self.peer, self.ack_every = peer, ack_every
        self.expected = self.got = self.last_seq = self.acked_seq = 0
        self.duplicates = self.out_of_order = 0
        self.final_sent = False
        self.idle_timer: asyncio.TimerHandle | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        peer.raw_handlers[b"deliver"] = self._on_deliver
        peer.after_batch = self._after_batch
        _fail_on_error(peer)

    def start(self, expected: int) -> None:
        self.expected, self.got, self.final_sent = expected, 0, False
        self.done = asyncio.get_running_loop().create_future()

    def _on_deliver(self, data: bytes) -> None:
        # The seq and the body's first 8 characters (its index) are all we check: read
        # them from the text when it has the expected shape, else parse it.
        if data.startswith(b'{"type":"deliver","seq":') and (at := data.find(b'"body":"')) > 0:
            seq, index = int(data[24 : data.index(b",", 24)]), int(data[at + 8 : at + 16])
        else:
            frame = json.loads(data)
            seq, index = frame["seq"], int(frame["body"][:8])
        if seq <= self.last_seq:
            self.duplicates += 1
            return
        self.last_seq = seq
        if index != self.got:
            self.out_of_order += 1
        self.got += 1

    def _after_batch(self) -> None:
        if self.got >= self.expected and not self.final_sent:
            self.final_sent = True
            self.acked_seq = self.last_seq
            confirmed = self.peer.request({"type": "ack", "seq": self.last_seq})
            confirmed.add_done_callback(self._confirmed)
        elif self.last_seq - self.acked_seq >= self.ack_every:
            self._ack()
        elif self.last_seq > self.acked_seq and self.idle_timer is None:
            self.idle_timer = asyncio.get_running_loop().call_later(0.002, self._idle)

    def _ack(self) -> None:
        self.acked_seq = self.last_seq
        self.peer.queue({"type": "ack", "seq": self.last_seq})

    def _idle(self) -> None:
        self.idle_timer = None
        if self.last_seq > self.acked_seq and not self.final_sent:
            self._ack()
            self.peer.flush()

    def _confirmed(self, future: asyncio.Future[Frame]) -> None:
        if not self.done.done():
            if future.exception() is not None:
                self.done.set_exception(future.exception())  # type: ignore[arg-type]
            else:
                self.done.set_result(None)


async def throughput(
    options: BridgeOptions,
    pairs: int,
    per_sender: int,
    warmup: int = 500,
    window: int = 1000,
    ack_every: int = 100,
) -> list[Row]:
    label = f"{pairs}x{pairs}"
    async with BridgeProcess(options, f"throughput-{label}") as bridge:
        crash = _crash()
        names = [f"tx{i}" for i in range(pairs)] + [f"rx{i}" for i in range(pairs)]
        peers = await _open_many(bridge.url, names, crash)
        try:
            receivers = [_Receiver(p, ack_every) for p in peers[pairs:]]
            pairing = zip(peers[:pairs], receivers, strict=True)
            senders = [_Sender(p, r.peer.address, window) for p, r in pairing]
            await _phase(senders, receivers, warmup, "w", crash)
            meter = CpuMeter(bridge)
            elapsed = await _phase(senders, receivers, per_sender, "m", crash)
            rows = _throughput_rows(label, pairs * per_sender, elapsed, receivers)
            return rows + _cpu_rows(f"throughput {label}", meter, pairs * per_sender)
        finally:
            _close_all(peers)


async def _phase(
    senders: list[_Sender],
    receivers: list[_Receiver],
    count: int,
    prefix: str,
    crash: asyncio.Future[None],
) -> float:
    for r in receivers:
        r.start(count)
    started = time.perf_counter()
    for s in senders:
        s.start(count, prefix)
    waits = [s.done for s in senders] + [r.done for r in receivers]
    await first(asyncio.gather(*waits), crash, 240)
    return time.perf_counter() - started


def _throughput_rows(
    label: str, total: int, elapsed: float, receivers: list[_Receiver]
) -> list[Row]:
    name = f"throughput {label}"
    rate = total / elapsed
    rows = [
        Row(name, "messages delivered and acked", total, "msgs"),
        Row(name, "elapsed", elapsed, "s"),
    ]
    if label == "1x1":
        rows.append(Row(name, "rate", rate, "msg/s", "≥ 20,000 msg/s", "271 msg/s", rate >= 20_000))
    else:
        rows.append(Row(name, "rate (aggregate)", rate, "msg/s"))
    bad = sum(r.duplicates + r.out_of_order for r in receivers)
    if bad:
        rows.append(Row(name, "duplicates or out of order (must be 0)", bad, "msgs", ok=False))
    return rows


# --- broadcast ----------------------------------------------------------------------


async def broadcast(
    options: BridgeOptions, receivers: int, rounds: int = 20, warmup: int = 3
) -> list[Row]:
    async with BridgeProcess(options, f"broadcast-{receivers}") as bridge:
        crash = _crash()
        names = ["bc-sender"] + [f"bc{i:05d}" for i in range(receivers)]
        peers = await _open_many(bridge.url, names, crash)
        try:
            return await _broadcast(bridge, peers[0], peers[1:], rounds, warmup)
        finally:
            _close_all(peers)


async def _broadcast(
    bridge: BridgeProcess, sender: Peer, receivers: list[Peer], rounds: int, warmup: int
) -> list[Row]:
    loop = asyncio.get_running_loop()
    crash, n = sender.crash, len(receivers)
    state: dict[str, Any] = {}
    seqs: dict[Peer, int] = {}

    def on_deliver(peer: Peer) -> Callable[[Frame], None]:
        def handle(frame: Frame) -> None:
            state["last"] = time.perf_counter()
            if frame["body"] != state["body"]:
                peer.fail(f"{peer.address} got {frame['body'][:20]!r}")
            seqs[peer] = frame["seq"]  # acked once all have it: off the measured path
            state["delivered"] += 1
            if state["delivered"] == n:
                state["cpu_end"] = time.process_time()
                state["all_delivered"].set_result(None)

        return handle

    def on_acked(frame: Frame) -> None:
        state["acked"] += 1
        if state["acked"] == n:
            state["all_acked"].set_result(None)

    for peer in receivers:
        peer.handlers["deliver"] = on_deliver(peer)
        peer.handlers["acked"] = on_acked
        _fail_on_error(peer)
    times: list[float] = []
    mine: list[float] = []  # this process's CPU between send and the last delivery
    meter = CpuMeter(bridge)
    for i in range(warmup + rounds):
        if i == warmup:
            meter = CpuMeter(bridge)
        state.update(
            body=body(i),
            delivered=0,
            acked=0,
            all_delivered=loop.create_future(),
            all_acked=loop.create_future(),
        )
        cpu, sent = time.process_time(), time.perf_counter()
        accepted = sender.request(
            {"type": "send", "cid": f"b{i}", "to": "*", "body": state["body"]}
        )
        await first(state["all_delivered"], crash, 60)
        for peer, seq in seqs.items():
            peer.send({"type": "ack", "seq": seq, "rid": seq})
        reply = await first(accepted, crash, 60)
        await first(state["all_acked"], crash, 60)
        if len(reply["recipients"]) != n:
            raise BenchFailure(f"broadcast reached {len(reply['recipients'])} peers, not {n}")
        if i >= warmup:
            times.append((state["last"] - sent) * 1000)
            mine.append((state["cpu_end"] - cpu) * 1000)
    name = f"broadcast to {n}"
    target = ("≤ 5 ms", "65.7 ms") if n == 50 else ("", "")
    median = statistics.median(times)
    use = meter.used()  # each round: one send, its n deliveries and n acks (with rids)
    ok = median <= 5.0 if n == 50 else None
    return [
        Row(name, "rounds", len(times), ""),
        Row(name, "median, send → last receiver has it", median, "ms", *target, ok),
        Row(name, "min", min(times), "ms"),
        Row(name, "max", max(times), "ms"),
        Row(name, "of which load generator CPU (median)", statistics.median(mine), "ms"),
        Row(
            name,
            "bridge CPU per broadcast (its deliveries and acks)",
            1e3 * use.bridge / rounds,
            "ms",
        ),
        *_cpu_rows(name, meter),
    ]


# --- backlog ------------------------------------------------------------------------


async def backlog(options: BridgeOptions, count: int = 100_000, window: int = 1000) -> list[Row]:
    """A known peer goes offline; ``count`` messages are sent to it; it comes back.

    Figures: the rate at which the offline mailbox was filled (sends accepted), and the
    drain: from the receiver's connect until every message is delivered and the last ack
    confirmed; the bridge's RSS before, at its peak during the drain (sampled every
    20 ms), and after.
    """
    async with BridgeProcess(options, f"backlog-{count}") as bridge:
        crash = _crash()
        sender = await open_peer(bridge.url, "bk-sender", PROJECT, crash)
        peers = [sender]
        try:
            away = await open_peer(bridge.url, "bk-receiver", PROJECT, crash)
            address = away.address
            away.close()
            await first(away.lost, crash, 30)
            for _ in range(10_000):  # until the bridge has seen it go (no sleep: round trips)
                status = await first(sender.request({"type": "status"}), crash, 30)
                if status["peers_online"] == 1:
                    break
            else:
                raise BenchFailure("the receiver still shows as online")
            return await _backlog(bridge, sender, address, count, window, peers)
        finally:
            _close_all(peers)


async def _backlog(
    bridge: BridgeProcess, sender: Peer, address: str, count: int, window: int, peers: list[Peer]
) -> list[Row]:
    crash = sender.crash
    rss_empty = bridge.rss_kb()
    writer = _Sender(sender, address, window)
    meter = CpuMeter(bridge)
    started = time.perf_counter()
    writer.start(count, "k")
    await first(writer.done, crash, 600)
    filled = time.perf_counter() - started
    fill_cpu = meter.used()
    rss_full = bridge.rss_kb()
    peak = [rss_full]

    def sample() -> None:
        peak[0] = max(peak[0], bridge.rss_kb())
        timer[0] = asyncio.get_running_loop().call_later(0.02, sample)

    timer = [asyncio.get_running_loop().call_later(0.02, sample)]
    receivers: list[_Receiver] = []

    def prepare(peer: Peer) -> None:
        receivers.append(_Receiver(peer, 100))
        receivers[0].start(count)

    meter = CpuMeter(bridge)
    started = time.perf_counter()
    try:
        peers.append(await open_peer(bridge.url, "bk-receiver", PROJECT, crash, 60, prepare))
        await first(receivers[0].done, crash, 600)
    finally:
        timer[0].cancel()
    drained = time.perf_counter() - started
    sample()
    timer[0].cancel()
    rss_after = bridge.rss_kb()
    bad = receivers[0].duplicates + receivers[0].out_of_order
    name = f"backlog of {count:,}"
    rows = [
        Row(name, "fill: sends accepted into an offline mailbox", count / filled, "msg/s"),
        Row(name, "fill: bridge CPU per message", 1e6 * fill_cpu.bridge / count, "µs"),
        Row(name, "drain: connect → all delivered and acked", drained, "s"),
        Row(name, "drain rate", count / drained, "msg/s", "≥ 100,000 msg/s", "0.71 s"),
        Row(name, "bridge RSS, empty mailbox", rss_empty / 1024, "MB"),
        Row(name, "bridge RSS, backlog written", rss_full / 1024, "MB"),
        Row(name, "bridge RSS, peak during the drain", peak[0] / 1024, "MB"),
        Row(name, "bridge RSS, after the drain", rss_after / 1024, "MB"),
        *_cpu_rows(f"{name} drain", meter, count),
    ]
    if bad:
        rows.append(Row(name, "duplicates or out of order (must be 0)", bad, "msgs", ok=False))
    return rows


# --- registration -------------------------------------------------------------------


async def register(options: BridgeOptions, peers: int, concurrency: int = 64) -> list[Row]:
    mine = raise_nofile()
    if mine < peers + 200:
        raise BenchFailure(f"open-file limit {mine} is too low for {peers} peers (ulimit -n)")
    async with BridgeProcess(options, f"register-{peers}") as bridge:
        if bridge.nofile_limit() < peers + 200:
            raise BenchFailure(
                f"the bridge's open-file limit {bridge.nofile_limit()} is too low for {peers}"
            )
        crash = _crash()
        warm = await _open_many(bridge.url, [f"warm{i}" for i in range(10)], crash)
        idle: list[Peer] = []
        try:
            before = bridge.rss_kb()
            meter = CpuMeter(bridge)
            started = time.perf_counter()
            names = [f"idle{i:05d}" for i in range(peers)]
            idle = await _open_many(bridge.url, names, crash, concurrency)
            elapsed = time.perf_counter() - started
            use = meter.used()
            cpu = _cpu_rows(f"register {peers} idle peers", meter)
            name = f"register {peers} idle peers"
            cpu.append(Row(name, "server CPU per peer", 1e6 * use.bridge / peers, "µs"))
            status = await first(warm[0].request({"type": "status"}), crash, 60)
            after = bridge.rss_kb()
            if status["peers_online"] != peers + len(warm):
                raise BenchFailure(f"bridge shows {status['peers_online']} peers online")
            return _register_rows(peers, elapsed, before, after, bridge.status_kb("VmHWM"), cpu)
        finally:
            _close_all(idle + warm)


def _register_rows(
    n: int, elapsed: float, before: int, after: int, hwm: int, cpu: list[Row]
) -> list[Row]:
    name = f"register {n} idle peers"
    per_peer = (after - before) / n
    time_target = {10_000: ("≤ 10 s", ""), 1000: ("", "41 s")}.get(n, ("", ""))
    rss_target = {10_000: ("≤ 40 KB", ""), 1000: ("", "68.5 KB")}.get(n, ("", ""))
    big = n == 10_000
    return [
        Row(name, "total time", elapsed, "s", *time_target, elapsed <= 10 if big else None),
        Row(name, "registrations per second", n / elapsed, "/s"),
        Row(name, "bridge RSS before", before / 1024, "MB"),
        Row(name, "bridge RSS after", after / 1024, "MB"),
        Row(name, "bridge peak RSS (VmHWM)", hwm / 1024, "MB"),
        Row(name, "RSS per peer", per_peer, "KB", *rss_target, per_peer <= 40 if big else None),
        *cpu,
    ]


Scenario = Callable[[], Coroutine[Any, Any, list[Row]]]
