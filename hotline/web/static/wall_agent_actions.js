// The wallboard's actions on one agent (示忙 with a reason, 恢复, 签出, 监听/耳语/强插 after a
// confirmation): they go to the JSON API, and its answer, or its Chinese refusal, is shown
// in the agent row's note. Rule: the buttons are drawn again only when what they act on
// (the name, paused or not, the queues) changed, so a reason picked in the picker survives.
import { act, SPY_MODES } from "/static/switch_actions.js";

const board = document.getElementById("wallboard");
const el = (id) => document.getElementById(id);
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

// r: the agent's row ({acts, note}), a: its live payload.
export function drawActions(r, a, name, queueNames) {
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

