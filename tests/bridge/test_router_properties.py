"""Router invariants under random interleavings of sends, acks, drops, takeovers and commits.

Whatever happens, each message stored for a recipient reaches its agent exactly once, in
mailbox order, with no gap, and every ``accepted`` message is in the store (§7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai_connect.bridge.events import Action, Send
from ai_connect.protocol import Accepted, Deliver, Limits, Welcome

from .helpers import Bridge, addr

NAMES = ("A", "B", "C")


@dataclass
class Agent:
    """A client as the protocol expects it: dedup by id, acks what it has in order."""

    name: str
    conn: int | None = None
    session: str = "s0"
    contiguous: int = 0
    """Every seq up to this one was received (on any connection)."""
    shown: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    @property
    def address(self) -> str:
        return addr(self.name)


class World:
    def __init__(self, limits: Limits) -> None:
        self.bridge = Bridge(limits=limits)
        self.agents = {name: Agent(name) for name in NAMES}
        self.by_conn: dict[int, Agent] = {}
        self.next_conn = 1
        self.accepted: set[str] = set()
        self.body = 0
        self.floor: dict[int, int] = {}
        """Per link: the highest seq delivered on it or acked over it (by ack or resume)."""

    def observe(self, actions: list[Action]) -> None:
        for action in actions:
            if not isinstance(action, Send):
                continue
            agent = self.by_conn.get(action.conn)
            if agent is None or agent.conn != action.conn:
                continue  # a replaced or closed link: the client no longer reads it
            frame = action.frame
            if isinstance(frame, Welcome):
                assert frame.address == agent.address
                agent.contiguous = max(agent.contiguous, frame.acked)
            elif isinstance(frame, Deliver):
                assert frame.seq <= agent.contiguous + 1, "a gap in the deliveries"
                assert frame.seq > self.floor.get(action.conn, 0), "sent twice or after its ack"
                self.floor[action.conn] = frame.seq
                agent.contiguous = max(agent.contiguous, frame.seq)
                if frame.id not in agent.seen:
                    agent.seen.add(frame.id)
                    agent.shown.append(frame.id)
            elif isinstance(frame, Accepted):
                self.accepted.add(frame.id)

    def connect(self, agent: Agent, session: str, resume: bool = True) -> None:
        """Says hello on a new link; without ``resume`` the client acks after the welcome."""
        conn, self.next_conn = self.next_conn, self.next_conn + 1
        agent.conn, agent.session = conn, session
        self.by_conn[conn] = agent
        cursor = (agent.contiguous or None) if resume else None
        self.floor[conn] = cursor or 0
        self.observe(
            self.bridge.hello(
                conn, agent.name, address=agent.address, resume=cursor, session=session
            )
        )

    def ack(self, agent: Agent) -> None:
        assert agent.conn is not None
        self.floor[agent.conn] = max(self.floor.get(agent.conn, 0), agent.contiguous)
        self.observe(self.bridge.ack(agent.conn, agent.contiguous))

    def step(self, op: tuple[str, int, int]) -> None:
        kind, i, j = op
        agent, other = self.agents[NAMES[i]], self.agents[NAMES[j]]
        bridge = self.bridge
        if kind == "send" and agent.conn is not None and agent is not other:
            self.body += 1
            self.observe(bridge.send(agent.conn, other.address, f"{agent.name}{self.body}"))
        elif kind == "broadcast" and agent.conn is not None:
            self.body += 1
            self.observe(bridge.send(agent.conn, "*", f"*{self.body}"))
        elif kind == "ack" and agent.conn is not None and agent.contiguous:
            self.ack(agent)
        elif kind == "drop" and agent.conn is not None:
            conn, agent.conn = agent.conn, None
            self.observe(bridge.disconnect(conn))
        elif kind == "connect" and agent.conn is None:
            self.connect(agent, f"s{self.next_conn}", resume=j % 2 == 0)
        elif kind == "takeover" and agent.conn is not None:
            self.connect(agent, agent.session, resume=j % 2 == 0)
        elif kind == "commit":
            self.observe(bridge.commit())
        elif kind == "load":
            self.observe(bridge.load())
        elif kind == "restart":
            bridge.restart()
            for a in self.agents.values():
                a.conn = None

    def finish(self) -> None:
        for agent in self.agents.values():
            if agent.conn is None:
                self.connect(agent, f"s{self.next_conn}")
        for _ in range(1_000):
            self.observe(self.bridge.settle())
            before = {a.name: a.contiguous for a in self.agents.values()}
            for agent in self.agents.values():
                assert agent.conn is not None
                if agent.contiguous:
                    self.ack(agent)
            self.observe(self.bridge.settle())
            if before == {a.name: a.contiguous for a in self.agents.values()}:
                return
        raise AssertionError("delivery did not converge")


OPS = st.tuples(
    st.sampled_from(
        ["send"] * 6 + ["broadcast", "ack", "ack", "drop", "connect", "connect", "takeover"]
        + ["commit"] * 3 + ["load"] * 3 + ["restart"]
    ),
    st.integers(0, len(NAMES) - 1),
    st.integers(0, len(NAMES) - 1),
)  # fmt: skip


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    ops=st.lists(OPS, min_size=20, max_size=120),
    window=st.integers(1, 4),
    window_bytes=st.sampled_from([1, 10, 1_000_000]),
)
def test_every_stored_message_reaches_its_agent_once_in_order(
    ops: list[tuple[str, int, int]], window: int, window_bytes: int
) -> None:
    """Any interleaving ends with each mailbox shown exactly once, in order, accepted kept."""
    world = World(Limits(window_messages=window, window_bytes=window_bytes))
    for name in NAMES:
        world.connect(world.agents[name], f"first-{name}")
    world.observe(world.bridge.settle())
    for op in ops:
        world.step(op)
    world.finish()
    stored: set[str] = set()
    for agent in world.agents.values():
        mailbox = world.bridge.store.pending(agent.address, 0, 1_000_000, 1 << 40)
        assert agent.shown == [entry.message.id for entry in mailbox], agent.name
        stored.update(entry.message.id for entry in mailbox)
        (record,) = [p for p in world.bridge.store.peers() if p.address == agent.address]
        assert record.acked == record.tip == len(mailbox)
    assert world.accepted <= stored
