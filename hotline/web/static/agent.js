// Hotline agent workspace: the live stream that pops the caller (来电弹屏) and shows the
// agent's own state, 示忙 / 恢复 (the supervision API), and the evidence buttons that play
// the recording from the moment a ticket field was heard.
// The stream only says that something happened; what is shown comes from the server's
// pages, through the same permission checks as everything else.

import { act } from "/static/switch_actions.js";

const RETRY_MS = 3000;

// --- my own state, and 示忙 / 恢复 ---------------------------------------------------------

const me = document.getElementById("my-state");

// The agent's own state as the live stream says it (null: not in any queue).
function showState(a) {
  if (!me) return;
  const pauseButton = document.getElementById("pause");
  const unpauseButton = document.getElementById("unpause");
  const reason = document.getElementById("pause-reason");
  if (!a) {
    me.textContent = "未签入任何队列";
    me.dataset.paused = "";
  } else {
    me.textContent = a.activity === "paused" && a.pause_reason ? `${a.activity_label}（${a.pause_reason}）` : a.activity_label;
    me.dataset.paused = a.paused ? "true" : "false";
  }
  me.className = `state ${a ? a.activity : "logged_out"}`;
  const known = me.dataset.paused !== "";
  pauseButton.hidden = known && me.dataset.paused === "true";
  reason.hidden = pauseButton.hidden;
  document.querySelector('label[for="pause-reason"]').hidden = pauseButton.hidden;
  unpauseButton.hidden = known && me.dataset.paused === "false";
}

async function pauseAction(path, body, done) {
  const note = document.getElementById("pause-note");
  const controls = document.querySelectorAll(".pause-controls button, .pause-controls select");
  for (const c of controls) c.disabled = true;
  note.textContent = "正在提交…";
  note.classList.remove("error");
  const result = await act(path, body);
  for (const c of controls) c.disabled = false;
  note.textContent = result.ok ? done : result.message;
  note.classList.toggle("error", !result.ok);
}

document.getElementById("pause")?.addEventListener("click", () => {
  const reason = document.getElementById("pause-reason").value;
  pauseAction("pause", { reason }, `已示忙（${reason}）：来电暂不会分配给您`);
});
document.getElementById("unpause")?.addEventListener("click", () => {
  pauseAction("unpause", {}, "已恢复接听");
});

function setStatus(el, state, text) {
  if (!el) return;
  el.dataset.state = state;
  el.textContent = text;
}

// The caller at once from the event (number, name), then the full card from the server.
function quickCard(pop, p) {
  const card = document.createElement("article");
  card.className = "card pop";
  card.dataset.callId = p.call_id;
  const title = document.createElement("h2");
  title.textContent = `来电 ${p.caller_number || "未知号码"}`;
  const name = document.createElement("p");
  name.textContent = `客户姓名：${p.caller_name || "—"}　正在读取历史来电和工单…`;
  card.append(title, name);
  pop.replaceChildren(card);
}

function loadPop(callId) {
  return htmx.ajax("GET", `/workspace/pop/${encodeURIComponent(callId)}`, {
    target: "#pop",
    swap: "innerHTML",
  });
}

function startWorkspace(root) {
  const status = root.querySelector("#live-status");
  const pop = root.querySelector("#pop");
  let current = null; // the call shown
  let source = null;

  const show = (p) => {
    current = p.call_id;
    if (p.caller_number !== undefined) quickCard(pop, p);
    loadPop(p.call_id);
  };

  const connect = () => {
    source = new EventSource(root.dataset.events);
    source.addEventListener("open", () => setStatus(status, "open", "已连接，等待来电"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // refused (e.g. the session expired): ask the page; sign-in sends us back here
        setStatus(status, "closed", "连接中断，正在重新连接…");
        setTimeout(recover, RETRY_MS);
      } else {
        setStatus(status, "connecting", "连接中断，正在重新连接…");
      }
    });
    source.addEventListener("snapshot", (e) => {
      const snap = JSON.parse(e.data);
      showState((snap.agents || [])[0] || null); // the stream sends only my own member
      // opened (or reconnected) during a call: show the call being talked on
      for (const agent of snap.agents || []) {
        const talking = (agent.calls || []).filter((c) => c.call_id);
        if (talking.length && current !== talking[talking.length - 1].call_id) {
          show({ call_id: talking[talking.length - 1].call_id });
        }
      }
    });
    source.addEventListener("agent/state", (e) => showState(JSON.parse(e.data)));
    source.addEventListener("call/answered", (e) => show(JSON.parse(e.data)));
    for (const topic of ["call/ended", "ticket/drafted", "ticket/refined", "ticket/changed"]) {
      source.addEventListener(topic, (e) => {
        const p = JSON.parse(e.data);
        if (p.call_id && p.call_id === current) loadPop(current);
      });
    }
  };

  const recover = async () => {
    try {
      const r = await fetch(window.location.pathname, { redirect: "manual" });
      if (r.type === "opaqueredirect" || r.status === 401) {
        window.location.reload(); // to sign-in, and back here afterwards
        return;
      }
    } catch (err) {
      // the service is restarting: try again
    }
    if (source) source.close();
    connect();
  };

  connect();
}

// ▶ buttons next to a ticket's evidence: play the recording from that second.
function seek(button) {
  const player = document.getElementById("player");
  if (!player) return;
  const at = Number(button.dataset.seek);
  const go = () => {
    player.currentTime = at;
    player.play().catch(() => {});
  };
  if (player.readyState >= 1) {
    go();
  } else {
    player.addEventListener("loadedmetadata", go, { once: true });
    player.preload = "auto";
    player.load();
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-seek]");
  if (button) seek(button);
});

const root = document.querySelector("[data-workspace]");
if (root) startWorkspace(root);
