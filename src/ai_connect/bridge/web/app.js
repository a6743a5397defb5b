// The ai-connect dashboard (served by the bridge at /ui/, bridge/dashboard.py).
//
// It opens the bridge's own WebSocket as an observer (hello mode "observe",
// docs/protocol.md §9): a snapshot first (peers, open proposals, deliveries not yet
// shown), then one feed_event per thing the bridge does. History, conversations and
// search are the admin requests of §3.5, answered by rid. No polling, no framework.
//
// Everything a peer wrote (bodies, names, threads, reasons, context) reaches the page
// through text nodes only (el() below), never parsed as markup, and with the controls a
// display may act on (C0/C1, bidi overrides and isolates, line separators) shown as
// visible escapes, as text/terminal.py's clean() does for a terminal.
"use strict";

const TOKEN_KEY = "ai-connect-dashboard-token";
const AS_KEY = "ai-connect-dashboard-as"; // the operator's name when sending as a person
const MAX_MESSAGES = 2000; // the timeline keeps the newest ones
const HISTORY_PEERS = 40; // peers whose recent mail is loaded at start
const HISTORY_LIMIT = 30;
const SEARCH_PEERS = 50; // "every peer" asks this many peers' mail
const STATES = ["accepted", "delivered", "shown"];
const RECEIPTS_AT_START = 60; // messages of the loaded history whose receipts are asked
const STALE_S = 120; // delivered this long ago and still not shown: marked for attention

const state = {
  ws: null,
  live: false, // a welcome came: the token (if any) was taken
  retry: 0,
  rid: 0,
  pending: new Map(), // rid -> {resolve, reject}
  peers: new Map(), // address -> FeedPeer
  messages: new Map(), // id -> message {id, from, to, recipients, thread, reply_to, ts, text, context, human, paused}
  others: new Map(), // id -> message shown in a conversation or search, not on the timeline
  receipts: new Map(), // id -> Map(recipient -> {state, path, ts})
  proposals: new Map(), // id -> proposal dict (with ballots and tally)
  view: "timeline",
  conversation: null, // {kind: "pair", a, b} | {kind: "thread", thread}
  search: null, // {query, viewer, before}
  filter: "", // the timeline shows only messages whose peers, projects or thread match
  project: "", // the project of this observer (welcome): a person's address is "Name (project)"
  speakers: new Set(), // the addresses this page sent as: their messages join the conversation
};

// --- DOM helpers: text only ---------------------------------------------------------

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;
const UNSAFE_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

function escapeChar(ch) {
  const code = ch.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

function clean(value) {
  // one line: names, threads, reasons shown inline
  return String(value).replace(UNSAFE, escapeChar);
}

function block(value) {
  // a message body or a question: newlines and tabs kept
  return document.createTextNode(String(value ?? "").replace(UNSAFE_IN_TEXT, escapeChar));
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else if (key === "title") node.title = clean(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(clean(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function clock(ts) {
  // the time of day; with the date too when it is not today's
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const time = d.toLocaleTimeString([], { hour12: false });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ts * 1000).toLocaleDateString();
}

// --- the connection -----------------------------------------------------------------

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/`;
}

function setStatus(kind, text) {
  const node = $("status");
  node.dataset.state = kind;
  node.textContent = text;
}

function connect() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const ws = new WebSocket(wsUrl());
  state.ws = ws;
  setStatus("connecting", state.live ? "reconnecting…" : "connecting…");
  ws.addEventListener("open", () => {
    const hello = {
      type: "hello",
      rid: "hello",
      protocol: 1,
      name: "dashboard",
      project: "ai-connect",
      mode: "observe",
      client: { kind: "dashboard", version: "1" },
    };
    if (token) hello.token = token;
    ws.send(JSON.stringify(hello));
  });
  ws.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (err) {
      console.error("not JSON from the bridge", err);
      return;
    }
    handle(frame);
  });
  ws.addEventListener("close", (event) => {
    for (const { reject } of state.pending.values()) reject(new Error("connection closed"));
    state.pending.clear();
    if (state.ws !== ws) return;
    state.ws = null;
    if (!$("login").hidden) return; // waiting for a token
    const delay = Math.min(10000, 500 * 2 ** state.retry++);
    const why = $("status").dataset.state === "down" ? $("status").textContent : "disconnected";
    setStatus("down", `${why}; reconnecting in ${Math.round(delay / 1000)} s`);
    setTimeout(connect, delay);
  });
  ws.addEventListener("error", () => {
    if (!state.live) setStatus("down", "cannot reach the bridge");
  });
}

function request(frame) {
  const rid = `r${++state.rid}`;
  return new Promise((resolve, reject) => {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
      reject(new Error("not connected"));
      return;
    }
    state.pending.set(rid, { resolve, reject });
    state.ws.send(JSON.stringify({ ...frame, rid }));
  });
}

function handle(frame) {
  if (frame.rid === "hello") {
    if (frame.type === "welcome") return welcomed(frame);
    if (frame.type === "error") return refused(frame);
  }
  if (frame.rid !== undefined && frame.rid !== null && state.pending.has(frame.rid)) {
    const { resolve, reject } = state.pending.get(frame.rid);
    state.pending.delete(frame.rid);
    if (frame.type === "error") reject(Object.assign(new Error(frame.message), frame));
    else resolve(frame);
    return;
  }
  switch (frame.type) {
    case "feed_snapshot":
      return snapshot(frame);
    case "feed_event":
      return feedEvent(frame);
    case "error":
      console.warn("bridge error", frame.code, frame.message);
      return;
    default:
      return; // presence and others: the feed carries the same
  }
}

function welcomed(frame) {
  state.live = true;
  state.retry = 0;
  $("login").hidden = true;
  $("app").hidden = false;
  $("search-form").hidden = false;
  $("logout").hidden = !sessionStorage.getItem(TOKEN_KEY);
  $("bridge").textContent = `bridge ${frame.server} at ${location.host}`;
  state.project = frame.project;
  setStatus("live", "live");
}

function refused(frame) {
  if (frame.code !== "auth_failed") {
    // Not about the token (the bridge is shutting down, too many connections…): say
    // why and try again as after a lost connection; the login form is not the answer.
    console.warn("hello refused", frame.code, frame.message);
    setStatus("down", `refused: ${frame.message}`);
    if (state.ws) state.ws.close();
    return;
  }
  const hadToken = sessionStorage.getItem(TOKEN_KEY);
  sessionStorage.removeItem(TOKEN_KEY);
  state.live = false;
  if (state.ws) state.ws.close();
  $("app").hidden = true;
  $("search-form").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = hadToken ? `${frame.message}. ${frame.hint || ""}`.trim() : "";
  setStatus("down", "log in");
  $("token").focus();
}

// --- the feed -----------------------------------------------------------------------

function snapshot(frame) {
  state.peers.clear();
  for (const peer of frame.peers || []) state.peers.set(peer.address, peer);
  const open = new Set((frame.proposals || []).map((p) => p.id));
  const ended = [...state.proposals.values()].filter(
    (p) => (p.status === "open" || p.status === "escalated") && !open.has(p.id),
  ); // decided, expired or withdrawn while the page was not connected
  for (const p of frame.proposals || []) state.proposals.set(p.id, p);
  refreshProposals(ended.map((p) => p.id));
  for (const d of frame.unshown || []) mark(d);
  renderPeers();
  renderProposals();
  for (const id of state.receipts.keys()) refreshRow(id);
  loadRecent();
}

async function refreshProposals(ids) {
  for (const id of ids) {
    try {
      const info = await request({ type: "proposal_status", proposal: id });
      state.proposals.set(id, info.proposal);
    } catch (err) {
      state.proposals.delete(id); // forgotten since
    }
    renderProposals();
  }
}

function feedEvent(event) {
  switch (event.kind) {
    case "message":
      return addMessage(fromFeed(event.message), true);
    case "delivered":
    case "shown":
      mark(event.delivery, true);
      refreshRow(event.delivery.id);
      return;
    case "join":
    case "leave":
    case "work": // a new work status (docs/protocol.md §11)
      state.peers.set(event.peer.address, event.peer);
      return renderPeers();
    case "proposal":
      state.proposals.set(event.proposal.id, event.proposal);
      return renderProposals();
    default:
      return;
  }
}

function fromFeed(m) {
  return {
    id: m.id,
    from: m.from,
    to: m.to,
    recipients: m.recipients || [],
    online: m.online || [],
    thread: m.thread,
    reply_to: m.reply_to,
    ts: m.ts,
    text: m.preview,
    size: m.size,
    context: m.context,
    human: !!m.human,
    paused: m.paused,
    live: true,
  };
}

function fromView(m) {
  // history_page / search_results: the whole body; recipients unknown for broadcasts
  return {
    id: m.id,
    from: m.from,
    to: m.to,
    recipients: m.to === "*" ? [] : [m.to],
    online: [],
    thread: m.thread,
    reply_to: m.reply_to,
    ts: m.ts,
    text: m.body,
    context: m.context,
    human: !!m.human,
    live: false,
  };
}

function mark(d, live) {
  let byRecipient = state.receipts.get(d.id);
  if (!byRecipient) state.receipts.set(d.id, (byRecipient = new Map()));
  const before = byRecipient.get(d.recipient);
  if (before && STATES.indexOf(before.state) > STATES.indexOf(d.state)) return; // late news
  byRecipient.set(d.recipient, { state: d.state, path: d.path, ts: d.ts });
  const peer = state.peers.get(d.recipient);
  const newlyShown = d.state === "shown" && !(before && before.state === "shown");
  if (live && newlyShown && peer && peer.unread > 0) {
    peer.unread -= 1;
    renderPeers();
  }
}

function addMessage(message, live) {
  const known = state.messages.get(message.id);
  if (known) {
    if (live) Object.assign(known, message);
    refreshRow(message.id);
    return;
  }
  state.messages.set(message.id, message);
  if (live) {
    for (const r of message.recipients) {
      const peer = state.peers.get(r);
      if (peer) peer.unread = (peer.unread || 0) + 1;
    }
    if (message.recipients.length) renderPeers();
  }
  placeRow(message);
  trim();
  if (state.view === "conversation" && inConversation(message)) {
    $("conversation").append(messageRow(message, "conv"));
  }
}

function placeRow(message) {
  const row = messageRow(message, "timeline");
  row.hidden = !matches(message);
  const list = $("timeline");
  // newest first: before the first row older than this one
  let next = null;
  for (const node of list.children) {
    const other = state.messages.get(node.dataset.id);
    if (other && other.ts < message.ts) {
      next = node;
      break;
    }
  }
  list.insertBefore(row, next);
}

function trim() {
  while (state.messages.size > MAX_MESSAGES) {
    const list = $("timeline");
    const last = list.lastElementChild;
    if (!last) return;
    state.messages.delete(last.dataset.id);
    state.receipts.delete(last.dataset.id);
    last.remove();
  }
}

function refreshRow(id) {
  const message = state.messages.get(id) || state.others.get(id);
  if (!message) return;
  for (const node of document.querySelectorAll(`li.message[data-id="${CSS.escape(id)}"]`)) {
    const row = messageRow(message, node.dataset.where);
    row.hidden = node.hidden;
    node.replaceWith(row);
  }
}

// --- rendering ----------------------------------------------------------------------

function peerLink(address, other) {
  return el(
    "button",
    {
      type: "button",
      class: "peer-link",
      title: other ? `conversation of ${address} and ${other}` : address,
      onclick: other ? () => openPair(address, other) : undefined,
    },
    address,
  );
}

function messageRow(m, where) {
  const recipients = m.recipients.length ? m.recipients : m.to === "*" ? [] : [m.to];
  const other = m.to === "*" ? null : m.to;
  const receipts = state.receipts.get(m.id) || new Map();
  const chips = el("ul", { class: "receipts" });
  const shownTo = new Set(recipients);
  for (const r of receipts.keys()) shownTo.add(r);
  for (const r of shownTo) {
    const got = receipts.get(r);
    const st = got ? got.state : m.live ? "accepted" : "earlier";
    const how = got && got.path ? (st === "shown" ? ` via ${got.path}` : ` (${got.path})`) : "";
    const when = got ? ` ${clock(got.ts)}` : "";
    chips.append(
      el(
        "li",
        {
          class: `receipt ${st}${st === "delivered" && stale(got.ts) ? " stale" : ""}`,
          "data-recipient": r,
          "data-state": st,
          "data-ts": got ? got.ts : undefined,
          title: `${r}: ${st}${how}${when}`,
        },
        el("span", { class: "who" }, r),
        " ",
        el("span", { class: "state" }, st + how),
      ),
    );
  }
  const head = el(
    "div",
    { class: "head" },
    el("time", { datetime: new Date(m.ts * 1000).toISOString() }, clock(m.ts)),
    " ",
    peerLink(m.from, other),
    el("span", { class: "arrow" }, " → "),
    m.to === "*" ? el("span", { class: "broadcast" }, "everyone") : peerLink(m.to, m.from),
    m.human ? el("span", { class: "badge human" }, "human") : null,
    m.paused ? el("span", { class: "badge paused", title: m.paused }, "paused") : null,
    m.thread
      ? el("button", { type: "button", class: "badge thread", onclick: () => openThread(m.thread) }, `# ${m.thread}`)
      : null,
    m.reply_to ? el("span", { class: "reply", title: `in reply to ${m.reply_to}` }, "↩") : null,
  );
  const body = el("div", { class: "body" }, block(m.text));
  if (m.size && m.text && m.size > new TextEncoder().encode(m.text).length) {
    body.append(el("span", { class: "more" }, ` (${m.size} bytes in all)`));
  }
  const ctx = m.context ? el("div", { class: "context" }, contextLine(m.context)) : null;
  return el("li", { class: "message", "data-id": m.id, "data-where": where }, head, body, ctx, chips);
}

function stale(ts) {
  return Date.now() / 1000 - ts > STALE_S;
}

function matches(m) {
  const f = state.filter;
  if (!f) return true;
  return [m.from, m.to, m.thread, ...m.recipients].some((v) => v && v.toLowerCase().includes(f));
}

function applyFilter() {
  for (const row of $("timeline").children) {
    const m = state.messages.get(row.dataset.id);
    if (m) row.hidden = !matches(m);
  }
}

function filterBy(text) {
  $("filter").value = text;
  state.filter = text.toLowerCase();
  applyFilter();
  show("timeline");
}

function ageChips() {
  for (const chip of document.querySelectorAll(".receipt.delivered")) {
    chip.classList.toggle("stale", stale(Number(chip.dataset.ts)));
  }
}

function contextLine(context) {
  const parts = [];
  if (context.file) parts.push(context.lines ? `${context.file}:${context.lines}` : context.file);
  if (context.repo) parts.push(context.branch ? `${context.repo}@${context.branch}` : context.repo);
  if (context.commit) parts.push(String(context.commit).slice(0, 10));
  if (context.bytes) parts.push(`${context.bytes} bytes`);
  if (context.keys) parts.push(context.keys.join(", "));
  if (!parts.length) {
    const keys = Object.keys(context).filter((k) => k !== "content");
    if (keys.length) parts.push(keys.join(", "));
  }
  return `context: ${parts.join(" · ") || "attached"}`;
}

const SHOWN_FILES = 3; // as text/work.py: the newest few, the rest counted

function workLine(w) {
  // a peer's work status in one line, as `ai-connect peers` shows it (text/work.py)
  const parts = [w.activity];
  if (w.repo) {
    let where = w.repo;
    const at = [w.branch, w.head].filter(Boolean).join("@");
    if (at) where += ` ${at}`;
    if (w.dirty) where += `, ${w.dirty} dirty`;
    parts.push(where);
  }
  const files = w.files || [];
  if (files.length) {
    const more = files.length - SHOWN_FILES;
    parts.push(`edited ${files.slice(0, SHOWN_FILES).join(", ")}${more > 0 ? ` +${more}` : ""}`);
  }
  if (w.task) parts.push(`task "${w.task}"`);
  return parts.join(" · ");
}

function renderPeers() {
  const list = $("peers");
  const peers = [...state.peers.values()].sort(
    (a, b) => Number(b.online) - Number(a.online) || a.address.localeCompare(b.address),
  );
  list.replaceChildren(
    ...peers.map((p) =>
      el(
        "li",
        { class: `peer ${p.online ? "online" : "offline"}`, "data-address": p.address },
        el("span", { class: "dot", title: p.online ? "online" : "offline" }),
        el(
          "button",
          { type: "button", class: "address", title: "show only its messages", onclick: () => filterBy(p.address) },
          p.address,
        ),
        el("span", { class: "seen" }, p.online ? "online" : `seen ${ago(p.last_seen)}`),
        p.unread > 0 ? el("span", { class: "unread", title: "not shown to its agent yet" }, `${p.unread} unread`) : null,
        p.work
          ? el(
              "span",
              {
                class: `work ${p.work.activity}`,
                title: `edited: ${(p.work.files || []).join(", ") || "nothing yet"} (${ago(p.work.ts)})`,
              },
              workLine(p.work),
            )
          : null,
      ),
    ),
  );
  const online = peers.filter((p) => p.online).length;
  $("peer-count").textContent = `${online}/${peers.length} online`;
  const scope = $("search-scope");
  const key = peers.map((p) => p.address).join("\n");
  if (scope.dataset.key === key) return; // an open drop-down stays open
  scope.dataset.key = key;
  const chosen = scope.value;
  scope.replaceChildren(
    el("option", { value: "" }, "every peer"),
    ...peers.map((p) => el("option", { value: p.address }, p.address)),
  );
  scope.value = chosen;
}

function renderProposals() {
  const list = $("proposals");
  const order = { open: 0, escalated: 1, decided: 2, expired: 3, withdrawn: 4 };
  const proposals = [...state.proposals.values()].sort(
    (a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9) || b.created - a.created,
  );
  list.replaceChildren(...proposals.map(proposalCard));
  if (!proposals.length) list.append(el("li", { class: "hint" }, "no open proposals"));
}

function proposalCard(p) {
  const t = p.tally || {};
  const tally = el(
    "div",
    { class: "tally" },
    ["approve", "reject", "abstain", "pending"].map((k) =>
      el("span", { class: `count ${k}`, "data-tally": k }, `${k} ${t[k] ?? 0}`),
    ),
    el("span", { class: "needed", "data-tally": "needed" }, `needs ${t.needed ?? "?"}`),
  );
  const voted = new Map((p.ballots || []).map((b) => [b.voter, b]));
  const ballots = el(
    "ul",
    { class: "ballots" },
    (p.participants || []).map((voter) => {
      const b = voted.get(voter);
      return el(
        "li",
        { class: `ballot ${b ? b.choice : "waiting"}`, "data-voter": voter },
        el("span", { class: "who" }, voter),
        " ",
        el("span", { class: "choice" }, b ? b.choice : "waiting"),
        b && b.reason ? el("span", { class: "reason" }, ` — ${b.reason}`) : null,
      );
    }),
  );
  const verdict = p.outcome ? `${p.status}: ${p.outcome}` : p.status;
  return el(
    "li",
    { class: `proposal ${p.status}`, "data-proposal": p.id },
    el("div", { class: "question" }, block(p.question)),
    el(
      "div",
      { class: "meta" },
      el("span", { class: "status", "data-status": p.status }, verdict),
      ` · ${p.rule}${p.quorum ? ` ${p.quorum}` : ""} · by ${p.author}`,
      p.deadline ? ` · until ${clock(p.deadline)}` : "",
      p.judge ? ` · judge ${p.judge}` : "",
    ),
    tally,
    ballots,
    p.ruling
      ? el(
          "div",
          { class: `ballot ruling ${p.ruling.choice}`, "data-voter": p.ruling.voter },
          "ruling by ",
          el("span", { class: "who" }, p.ruling.voter),
          " ",
          el("span", { class: "choice" }, p.ruling.choice),
          p.ruling.reason ? el("span", { class: "reason" }, ` — ${p.ruling.reason}`) : null,
        )
      : null,
    p.reason ? el("div", { class: "reason" }, block(p.reason)) : null,
  );
}

// --- views: timeline, conversation, search ------------------------------------------

function show(view) {
  state.view = view;
  for (const name of ["timeline", "conversation", "results"]) {
    $(`${name}-view`).hidden = name !== view;
    const tab = document.querySelector(`#tabs button[data-view="${name}"]`);
    tab.classList.toggle("active", name === view);
    if (name === view) tab.hidden = false;
  }
}

function inConversation(m) {
  const c = state.conversation;
  if (!c) return false;
  if (c.kind === "thread") return m.thread === c.thread;
  const pair = (x, y) => (m.from === x && (m.to === y || m.recipients.includes(y)));
  const ours = state.speakers.has(m.from) && (m.to === c.a || m.to === c.b);
  return pair(c.a, c.b) || pair(c.b, c.a) || ours;
}

function renderConversation(extra) {
  const seen = new Map();
  for (const m of [...extra, ...state.messages.values()]) if (inConversation(m)) seen.set(m.id, state.messages.get(m.id) || m);
  const rows = [...seen.values()].sort((a, b) => a.ts - b.ts).map((m) => messageRow(m, "conv"));
  $("conversation").replaceChildren(...rows);
  if (!rows.length) $("conversation").append(el("li", { class: "hint" }, "no messages yet"));
}

function replyTargets(addresses) {
  const select = $("reply-to");
  select.replaceChildren(...addresses.map((a) => el("option", { value: a }, a)));
  $("reply-error").textContent = "";
}

async function sendAsPerson() {
  const name = $("reply-as").value.trim();
  const body = $("reply-body").value;
  const to = $("reply-to").value;
  if (!name || !body.trim() || !to) return;
  localStorage.setItem(AS_KEY, name);
  state.speakers.add(`${name} (${state.project})`);
  const frame = { type: "send", cid: `ui-${Date.now()}-${Math.random().toString(16).slice(2)}`, to, body, as: name };
  const c = state.conversation;
  if (c && c.kind === "thread") frame.thread = c.thread;
  try {
    await request(frame);
    $("reply-body").value = "";
    $("reply-error").textContent = "";
  } catch (err) {
    $("reply-error").textContent = `not sent: ${err.message}. ${err.hint || ""}`.trim();
  }
}

async function openPair(a, b) {
  state.conversation = { kind: "pair", a, b };
  replyTargets([b, a]);
  $("conversation-title").textContent = `${a} ⇄ ${b}`;
  $("conversation-note").textContent = "oldest first; new messages appear as they pass";
  show("conversation");
  renderConversation([]);
  try {
    const page = await request({ type: "admin_history", viewer: a, peer: b, limit: 200 });
    if (state.conversation && state.conversation.a === a && state.conversation.b === b) {
      const found = page.messages.map(fromView);
      for (const m of found) if (!state.messages.has(m.id)) state.others.set(m.id, m);
      renderConversation(found);
      await loadReceipts(found.map((m) => m.id).reverse());
    }
  } catch (err) {
    $("conversation-note").textContent = `only the messages seen live: ${err.message}`;
  }
}

async function openThread(thread) {
  state.conversation = { kind: "thread", thread };
  $("conversation-title").textContent = `thread # ${thread}`;
  $("conversation-note").textContent = "oldest first; new messages appear as they pass";
  show("conversation");
  renderConversation([]);
  const parties = new Set();
  for (const m of state.messages.values()) {
    if (m.thread === thread) {
      parties.add(m.from);
      for (const r of m.recipients) parties.add(r);
    }
  }
  replyTargets([...parties]);
  const found = [];
  for (const viewer of parties) {
    try {
      const page = await request({ type: "admin_history", viewer, limit: 500 });
      for (const m of page.messages) if (m.thread === thread) found.push(fromView(m));
    } catch (err) {
      $("conversation-note").textContent = `only the messages seen live: ${err.message}`;
      break;
    }
  }
  if (state.conversation && state.conversation.thread === thread) renderConversation(found);
}

async function loadRecent() {
  const peers = [...state.peers.keys()].slice(0, HISTORY_PEERS);
  const loaded = [];
  for (const viewer of peers) {
    let page;
    try {
      page = await request({ type: "admin_history", viewer, limit: HISTORY_LIMIT });
    } catch (err) {
      return; // the bridge refused: the live feed only
    }
    for (const m of page.messages) {
      if (!state.messages.has(m.id)) {
        addMessage(fromView(m), false);
        loaded.push(m);
      }
    }
  }
  loaded.sort((a, b) => b.ts - a.ts);
  await loadReceipts(loaded.slice(0, RECEIPTS_AT_START).map((m) => m.id));
}

async function loadReceipts(ids) {
  // Where each message of the history stands per recipient (protocol §3.7): asked one
  // at a time, newest first, for the messages the feed has told nothing about.
  for (const id of ids) {
    if (state.receipts.has(id)) continue;
    let report;
    try {
      report = await request({ type: "receipts", id });
    } catch (err) {
      if (err.message === "not connected" || err.message === "connection closed") return;
      continue; // forgotten since, or not stored any more
    }
    for (const r of report.recipients) {
      const ts = r.shown || r.delivered || report.ts;
      // "waiting" (stored, not delivered yet) is what the live feed calls accepted
      const st = r.state === "waiting" ? "accepted" : r.state;
      mark({ id, recipient: r.recipient, state: st, path: r.path, ts });
    }
    const m = state.messages.get(id) || state.others.get(id);
    if (m && !m.recipients.length) m.recipients = report.recipients.map((r) => r.recipient);
    refreshRow(id);
  }
}

async function runSearch(query, viewer, before) {
  state.search = { query, viewer, before: null };
  $("results-title").textContent = `“${query}” in the mail of ${viewer || "every peer"}`;
  if (before === undefined) $("results").replaceChildren();
  show("results");
  const viewers = viewer ? [viewer] : [...state.peers.keys()].slice(0, SEARCH_PEERS);
  const found = new Map();
  let cursor = null;
  try {
    for (const v of viewers) {
      const frame = { type: "admin_search", viewer: v, query, limit: 50 };
      if (before) frame.before = before;
      const page = await request(frame);
      for (const m of page.messages) found.set(m.id, fromView(m));
      if (viewer) cursor = page.before ?? null;
    }
  } catch (err) {
    $("results").append(el("li", { class: "hint error" }, `search failed: ${err.message}. ${err.hint || ""}`));
    return;
  }
  const ordered = [...found.values()].sort((a, b) => b.ts - a.ts);
  for (const m of ordered) if (!state.messages.has(m.id)) state.others.set(m.id, m);
  const rows = ordered.map((m) => messageRow(m, "result"));
  $("results").append(...rows);
  if (!rows.length && before === undefined) $("results").append(el("li", { class: "hint" }, "no match"));
  state.search.before = cursor;
  $("results-more").hidden = cursor === null;
  await loadReceipts(ordered.map((m) => m.id));
}

// --- start --------------------------------------------------------------------------

function start() {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token").value = "";
    $("login-error").textContent = "";
    connect();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("search-query").value.trim();
    if (query) runSearch(query, $("search-scope").value || null);
  });
  $("reply-as").value = localStorage.getItem(AS_KEY) || "";
  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendAsPerson();
  });
  $("results-more").addEventListener("click", () => {
    const s = state.search;
    if (s && s.before !== null) runSearch(s.query, s.viewer, s.before);
  });
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.addEventListener("click", () => show(tab.dataset.view));
  }
  $("filter").addEventListener("input", (event) => {
    state.filter = event.target.value.trim().toLowerCase();
    applyFilter();
  });
  setInterval(() => {
    renderPeers(); // "seen 3 min ago" ages; no request is made
    ageChips();
  }, 30000);
  connect();
}

document.addEventListener("DOMContentLoaded", start);
