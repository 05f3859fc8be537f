// The live wallboard: draws queues, agents and waiting callers from the live stream
// (a snapshot, then each change), ticks waits and times in state every second against the
// server's clock, turns figures red past the thresholds the page carries, and goes full
// screen on request. Nothing here polls: every change arrives on the stream.
// Rule for cost at a real centre's size (60 queues, 750 agents): a change patches only its
// own rows, keyed by queue name, caller uniqueid and agent interface (writes only, no
// layout reads, so no layout thrash); tables are built whole only from a snapshot. The
// timers are the ticker's (wall_ticker.js): one tick a second, text written only when it
// changes.
// Per agent, the supervisor's actions on the switch (示忙 with a reason, 恢复, 签出,
// 监听/耳语/强插 after a confirmation) go to the JSON API; its answer, or its Chinese
// refusal, is shown next to the agent's row.
import { subscribe, watch } from "/static/live_stream.js";
import { drawActions } from "/static/wall_agent_actions.js";
import { cell, fill, place, reorder, sortedBody, unplace } from "/static/wall_rows.js";
import { duration, ticker } from "/static/wall_ticker.js";

export { duration };

const board = document.getElementById("wallboard");
const limits = {
  maxWait: Number(board.dataset.maxWait),
  minWithin: Number(board.dataset.minWithin),
  maxWaiting: Number(board.dataset.maxWaiting),
  maxRing: Number(board.dataset.maxRing),
};
const el = (id) => document.getElementById(id);
const zh = new Intl.Collator("zh").compare;
let queues = new Map();
let agents = new Map();
let skew = 0; // server clock minus ours, in ms

const now = () => Date.now() + skew;
const timers = ticker(now);

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function within(q) {
  const t = q.today || {};
  return t.answered ? (100 * t.answered_within_rule) / t.answered : null;
}

// --- queues, one row each, keyed by name --------------------------------------------------

const queueList = sortedBody("wb-queues", 7, "没有队列", (a, b) => zh(a.name, b.name));
const queueRows = new Map(); // name -> {name, tr, waiting, wait, pct, answered, abandoned, staff}

function queueRow(q) {
  let r = queueRows.get(q.queue);
  if (!r) {
    const tr = document.createElement("tr");
    tr.dataset.queue = q.queue;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = q.queue;
    tr.append(th);
    r = { name: q.queue, tr, waiting: cell(tr, "", "wb-num"), wait: cell(tr, "—", "wb-num") };
    r.waiting.setAttribute("aria-label", `${q.queue} 排队等待`);
    r.wait.setAttribute("aria-label", `${q.queue} 最长等待`);
    r.pct = cell(tr, "", "wb-num");
    r.answered = cell(tr, "", "wb-num");
    r.abandoned = cell(tr, "", "wb-num");
    r.staff = cell(tr, "", "wb-num");
    queueRows.set(q.queue, r);
  }
  setText(r.waiting, String(q.waiting_count));
  r.waiting.classList.toggle("alarm", q.waiting_count > limits.maxWaiting);
  timers.set(r.wait, q.longest_waiting_since, limits.maxWait);
  const share = within(q);
  setText(r.pct, share === null ? "—" : `${share.toFixed(1)}%`);
  r.pct.classList.toggle("alarm", share !== null && share < limits.minWithin);
  const t = q.today || {};
  setText(r.answered, String(t.answered ?? 0));
  setText(r.abandoned, String(t.abandoned ?? 0));
  setText(r.staff, `${q.agents_available} / ${q.agents_logged_in}`);
  return r;
}

// --- waiting callers, one row each, keyed by queue and uniqueid, longest waiting first ---

const callerList = sortedBody("wb-callers", 3, "无排队来电", (a, b) => a.joined - b.joined);
const callerRows = new Map(); // queue \0 uniqueid -> {key, queue, joined, tr, number, wait}

function callerRow(c) {
  const key = `${c.queue}\u0000${c.uniqueid}`;
  let r = callerRows.get(key);
  if (!r) {
    const tr = document.createElement("tr");
    r = { key, queue: c.queue, joined: Date.parse(c.joined_at), tr };
    cell(tr, c.queue);
    r.number = cell(tr, "");
    r.wait = cell(tr, "—", "wb-num");
    callerRows.set(key, r);
  }
  setText(r.number, c.caller_number || "未知号码");
  timers.set(r.wait, c.joined_at, limits.maxWait);
  return r;
}

function dropCaller(r) {
  callerRows.delete(r.key);
  timers.drop(r.wait);
}

// One queue's callers now: the ones gone leave, the new ones go in by their join time.
function patchCallers(q) {
  const keep = new Set();
  for (const c of q.waiting || []) {
    const known = callerRows.has(`${c.queue}\u0000${c.uniqueid}`);
    const r = callerRow(c);
    keep.add(r);
    if (!known) place(callerList, r);
  }
  for (const r of [...callerRows.values()]) {
    if (r.queue === q.queue && !keep.has(r)) {
      dropCaller(r);
      unplace(callerList, r);
    }
  }
}

// --- agents, one row each, keyed by interface -------------------------------------------

const ORDER = { ringing: 0, talking: 1, wrap_up: 2, available: 3, paused: 4, unavailable: 5, logged_out: 6 };

const agentList = sortedBody(
  "wb-agents",
  6,
  "没有签入的坐席",
  (a, b) => a.rank - b.rank || zh(a.member, b.member) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
);
// Kept across changes and snapshots: only its cells change, so a reason picked in its
// picker, or the switch's answer shown next to it, survives the next live change.
const agentRows = new Map(); // interface -> {id, tr, th, iface, state, time, queues, acts, note, key, rank, member}

function agentRow(a) {
  let r = agentRows.get(a.interface);
  if (!r) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    tr.append(th);
    r = { tr, th, iface: cell(tr, a.interface), state: cell(tr, ""), time: cell(tr, "—", "wb-num"), queues: cell(tr, "") };
    const td = cell(tr, "", "wb-actions");
    r.acts = document.createElement("span");
    r.note = document.createElement("span");
    r.note.className = "wb-note";
    r.note.setAttribute("role", "status");
    td.append(r.acts, r.note);
    r.key = "";
    agentRows.set(a.interface, r);
  }
  const name = a.member || a.interface;
  r.rank = ORDER[a.activity] ?? 9;
  r.member = a.member || "";
  r.id = a.interface;
  const cls = `agent ${a.activity}`;
  if (r.tr.className !== cls) r.tr.className = cls;
  const label = `坐席 ${name}`;
  if (r.tr.getAttribute("aria-label") !== label) r.tr.setAttribute("aria-label", label);
  setText(r.th, name);
  setText(r.state, a.activity === "paused" && a.pause_reason ? `${a.activity_label}（${a.pause_reason}）` : a.activity_label);
  const stateCls = `state ${a.activity}`;
  if (r.state.className !== stateCls) r.state.className = stateCls;
  timers.set(r.time, a.since, a.activity === "ringing" ? limits.maxRing : 0);
  const queueNames = (a.queues || []).map((m) => m.queue);
  setText(r.queues, queueNames.join("、") || "—");
  const key = JSON.stringify([name, Boolean(a.paused), queueNames]);
  if (key !== r.key) {
    r.key = key;
    drawActions(r, a, name, queueNames);
  }
  return r;
}

// --- applying changes ----------------------------------------------------------------------
// A change is patched at once: it only writes (nothing here reads layout), so the browser
// draws every change that arrived before its next frame in one style and layout pass.

function drawAll() {
  for (const [name, r] of queueRows) {
    if (!queues.has(name)) {
      queueRows.delete(name);
      timers.drop(r.wait);
    }
  }
  fill(queueList, [...queues.values()].map(queueRow));
  for (const r of [...callerRows.values()]) dropCaller(r);
  const callers = [];
  for (const q of queues.values()) for (const c of q.waiting || []) callers.push(callerRow(c));
  fill(callerList, callers);
  for (const [iface, r] of agentRows) {
    if (!agents.has(iface)) {
      agentRows.delete(iface);
      timers.drop(r.time);
    }
  }
  fill(agentList, [...agents.values()].map(agentRow));
}

function patchQueue(q) {
  const known = queueRows.has(q.queue);
  const r = queueRow(q);
  if (!known) place(queueList, r);
  patchCallers(q);
}

function patchAgent(a) {
  const known = agentRows.has(a.interface);
  const r = agentRow(a);
  if (known) reorder(agentList, r);
  else place(agentList, r);
}

function tick() {
  timers.tick();
  setText(el("wb-clock"), new Date(now()).toLocaleTimeString("zh-CN", { hour12: false }));
}

function link(up) {
  el("wb-link").hidden = up !== false;
}

subscribe("snapshot", (snap) => {
  skew = Date.parse(snap.at) - Date.now();
  queues = new Map(snap.queues.map((q) => [q.queue, q]));
  agents = new Map(snap.agents.map((a) => [a.interface, a]));
  link(snap.link_up);
  drawAll();
});
subscribe("queue/changed", (q) => {
  queues.set(q.queue, q);
  patchQueue(q);
});
subscribe("agent/state", (a) => {
  agents.set(a.interface, a);
  patchAgent(a);
});
subscribe("live/link", (l) => link(l.up));

const STATUS = { open: "实时连接正常", reconnecting: "连接中断，正在重连…", closed: "连接中断，稍后自动重试…" };
watch((state) => {
  const s = el("wb-status");
  s.textContent = STATUS[state];
  s.classList.toggle("alarm", state !== "open");
});

const full = el("wb-full");
full.addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else board.requestFullscreen?.();
});
document.addEventListener("fullscreenchange", () => {
  full.textContent = document.fullscreenElement ? "退出全屏" : "全屏";
});
// One tick a second, drawn in the next frame (none while the page is hidden).
setInterval(() => requestAnimationFrame(tick), 1000);
tick();
