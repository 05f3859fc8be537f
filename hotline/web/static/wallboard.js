// The live wallboard: draws queues, agents and waiting callers from the live stream
// (a snapshot, then each change), ticks waits and times in state every second against the
// server's clock, turns figures red past the thresholds the page carries, and goes full
// screen on request. Nothing here polls: every change arrives on the stream.
// Per agent, the supervisor's actions on the switch (示忙 with a reason, 恢复, 签出,
// 监听/耳语/强插 after a confirmation) go to the JSON API; its answer, or its Chinese
// refusal, is shown next to the agent's row.
import { subscribe, watch } from "/static/live_stream.js";
import { act, SPY_MODES } from "/static/switch_actions.js";

const board = document.getElementById("wallboard");
const limits = {
  maxWait: Number(board.dataset.maxWait),
  minWithin: Number(board.dataset.minWithin),
  maxWaiting: Number(board.dataset.maxWaiting),
  maxRing: Number(board.dataset.maxRing),
};
const el = (id) => document.getElementById(id);
let queues = new Map();
let agents = new Map();
let skew = 0; // server clock minus ours, in ms

const now = () => Date.now() + skew;

function since(iso) {
  return iso ? (now() - Date.parse(iso)) / 1000 : null;
}

export function duration(seconds) {
  if (seconds === null || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.append(td);
  return td;
}

function ticking(td, iso, limit) {
  td.dataset.since = iso || "";
  if (limit) td.dataset.limit = String(limit);
}

function empty(body, cols, text) {
  const tr = document.createElement("tr");
  const td = cell(tr, text, "muted");
  td.colSpan = cols;
  body.replaceChildren(tr);
}

function within(q) {
  const t = q.today || {};
  return t.answered ? (100 * t.answered_within_rule) / t.answered : null;
}

function drawQueues() {
  const body = el("wb-queues");
  const rows = [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue, "zh"));
  if (!rows.length) return empty(body, 7, "没有队列");
  body.replaceChildren(
    ...rows.map((q) => {
      const tr = document.createElement("tr");
      tr.dataset.queue = q.queue;
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = q.queue;
      tr.append(th);
      const waiting = cell(tr, String(q.waiting_count), "wb-num");
      waiting.setAttribute("aria-label", `${q.queue} 排队等待`);
      waiting.classList.toggle("alarm", q.waiting_count > limits.maxWaiting);
      const wait = cell(tr, "—", "wb-num");
      wait.setAttribute("aria-label", `${q.queue} 最长等待`);
      ticking(wait, q.longest_waiting_since, limits.maxWait);
      const share = within(q);
      const pct = cell(tr, share === null ? "—" : `${share.toFixed(1)}%`, "wb-num");
      pct.classList.toggle("alarm", share !== null && share < limits.minWithin);
      const t = q.today || {};
      cell(tr, String(t.answered ?? 0), "wb-num");
      cell(tr, String(t.abandoned ?? 0), "wb-num");
      cell(tr, `${q.agents_available} / ${q.agents_logged_in}`, "wb-num");
      return tr;
    }),
  );
}

function drawCallers() {
  const body = el("wb-callers");
  const rows = [];
  for (const q of queues.values()) {
    for (const c of q.waiting || []) rows.push(c);
  }
  rows.sort((a, b) => Date.parse(a.joined_at) - Date.parse(b.joined_at));
  if (!rows.length) return empty(body, 3, "无排队来电");
  body.replaceChildren(
    ...rows.map((c) => {
      const tr = document.createElement("tr");
      cell(tr, c.queue);
      cell(tr, c.caller_number || "未知号码");
      ticking(cell(tr, "—", "wb-num"), c.joined_at, limits.maxWait);
      return tr;
    }),
  );
}

const ORDER = { ringing: 0, talking: 1, wrap_up: 2, available: 3, paused: 4, unavailable: 5, logged_out: 6 };

// One row per agent, kept across redraws: only its cells change, so a reason picked in
// its picker, or the switch's answer shown next to it, survives the next live change.
const agentRows = new Map(); // interface -> {tr, th, iface, state, time, queues, acts, note, key}

function agentRow(a) {
  let r = agentRows.get(a.interface);
  if (!r) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    tr.append(th);
    r = { tr, th, iface: cell(tr, ""), state: cell(tr, ""), time: cell(tr, "—", "wb-num"), queues: cell(tr, "") };
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
  r.tr.className = `agent ${a.activity}`;
  r.tr.setAttribute("aria-label", `坐席 ${name}`);
  r.th.textContent = name;
  r.iface.textContent = a.interface;
  r.state.textContent = a.activity === "paused" && a.pause_reason ? `${a.activity_label}（${a.pause_reason}）` : a.activity_label;
  r.state.className = `state ${a.activity}`;
  ticking(r.time, a.since, a.activity === "ringing" ? limits.maxRing : 0);
  const queueNames = (a.queues || []).map((m) => m.queue);
  r.queues.textContent = queueNames.join("、") || "—";
  const key = JSON.stringify([name, Boolean(a.paused), queueNames]);
  if (key !== r.key) {
    r.key = key;
    drawActions(r, a, name, queueNames);
  }
  return r.tr;
}

function drawAgents() {
  const body = el("wb-agents");
  const rows = [...agents.values()].sort(
    (a, b) => (ORDER[a.activity] ?? 9) - (ORDER[b.activity] ?? 9) || (a.member || "").localeCompare(b.member || "", "zh"),
  );
  if (!rows.length) return empty(body, 6, "没有签入的坐席");
  const trs = rows.map(agentRow);
  const same = trs.length === body.children.length && trs.every((tr, i) => body.children[i] === tr);
  if (!same) body.replaceChildren(...trs); // only when the order changed
}

// --- actions on an agent (示忙/恢复, 签出, 监听/耳语/强插) ----------------------------------

const reasons = JSON.parse(board.dataset.pauseReasons || "[]");
const phone = board.dataset.phone || "";

function button(text, label, onClick, cls) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

function say(r, text, failed) {
  r.note.textContent = text;
  r.note.classList.toggle("error", Boolean(failed));
}

async function run(r, busy, path, body, done) {
  const buttons = [...r.acts.querySelectorAll("button, select")];
  for (const b of buttons) b.disabled = true;
  say(r, busy, false);
  const result = await act(path, body);
  for (const b of buttons) b.disabled = false;
  if (result.ok) say(r, done(result.data), false);
  else say(r, result.message, true);
}

const OUTCOME_TEXT = (d) => (d && d.detail ? `（交换机：${d.detail}）` : "");

function drawActions(r, a, name, queueNames) {
  const parts = [];
  if (a.paused) {
    parts.push(
      button("恢复", `恢复 ${name}`, () =>
        run(r, "正在恢复…", "unpause", { agent: a.interface }, () => `已恢复接听`),
      ),
    );
  } else {
    const pick = document.createElement("select");
    pick.setAttribute("aria-label", `示忙原因 ${name}`);
    for (const reason of reasons) pick.append(new Option(reason, reason));
    parts.push(
      pick,
      button("示忙", `示忙 ${name}`, () =>
        run(r, "正在示忙…", "pause", { agent: a.interface, reason: pick.value }, () => `已示忙（${pick.value}）`),
      ),
    );
  }
  for (const q of queueNames) {
    parts.push(
      button(queueNames.length > 1 ? `签出 ${q}` : "签出", `签出 ${name} ${q}`, () =>
        run(r, `正在从 ${q} 签出…`, "logout", { agent: a.interface, queue: q }, (d) => `已从 ${q} 签出${OUTCOME_TEXT(d)}`),
      "secondary"),
    );
  }
  for (const [mode, text, what] of SPY_MODES) {
    parts.push(
      button(text, `${text} ${name}`, async () => {
        if (phone && !(await confirmSpy(`${text} ${name}`, `将呼叫您的话机 ${phone}，接听后${what}。`))) return;
        await run(r, `正在呼叫您的话机 ${phone}，请接听…`, "spy", { agent: a.interface, mode }, () => `${text}已建立：请在您的话机上收听`);
      }, "secondary"),
    );
  }
  r.acts.replaceChildren(...parts);
}

// The confirmation before ringing the supervisor's own phone: true when confirmed.
function confirmSpy(title, text) {
  const dialog = el("wb-confirm");
  el("wb-confirm-title").textContent = `确认${title}？`;
  el("wb-confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

function tick() {
  for (const td of board.querySelectorAll("[data-since]")) {
    const s = td.dataset.since ? since(td.dataset.since) : null;
    td.textContent = duration(s);
    const limit = Number(td.dataset.limit || 0);
    td.classList.toggle("alarm", limit > 0 && s !== null && s > limit);
  }
  el("wb-clock").textContent = new Date(now()).toLocaleTimeString("zh-CN", { hour12: false });
}

function draw() {
  drawQueues();
  drawCallers();
  drawAgents();
  tick();
}

function link(up) {
  el("wb-link").hidden = up !== false;
}

subscribe("snapshot", (snap) => {
  skew = Date.parse(snap.at) - Date.now();
  queues = new Map(snap.queues.map((q) => [q.queue, q]));
  agents = new Map(snap.agents.map((a) => [a.interface, a]));
  link(snap.link_up);
  draw();
});
subscribe("queue/changed", (q) => {
  queues.set(q.queue, q);
  drawQueues();
  drawCallers();
  tick();
});
subscribe("agent/state", (a) => {
  agents.set(a.interface, a);
  drawAgents();
  tick();
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
setInterval(tick, 1000);
