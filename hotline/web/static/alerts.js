// Announces urgent and newly overdue tickets, and a caller's 不满意 in the post-call survey,
// on every open supervisor page, the moment the service publishes them (alert/urgent_ticket,
// alert/ticket_overdue, alert/survey_unsatisfied on the live stream): a banner with a link,
// in the page's aria-live region so screen readers say it too.
import { subscribe } from "/static/live_stream.js";

const region = document.getElementById("alerts");
const STEPS = { dispatch: "派发", contact: "联系", done: "办结", reply: "回复" };

function banner(kind, title, text, ticketId, href, what) {
  const box = document.createElement("div");
  box.className = `alert-banner ${kind}`;
  box.setAttribute("role", "alert");
  const strong = document.createElement("strong");
  strong.textContent = title;
  box.append(strong, " ", text, " ");
  const link = document.createElement("a");
  link.href = href || `/attention#ticket-${ticketId}`;
  link.textContent = what || `查看工单 ${ticketId}`;
  box.append(link);
  const close = document.createElement("button");
  close.type = "button";
  close.className = "secondary";
  close.textContent = "知道了";
  close.setAttribute("aria-label", `知道了：${what || `工单 ${ticketId}`}`);
  close.addEventListener("click", () => box.remove());
  box.append(" ", close);
  region.prepend(box);
  while (region.children.length > 5) region.lastElementChild.remove();
}

function describe(t) {
  const parts = [];
  if (t.topic) parts.push(t.topic);
  if (t.caller) parts.push(`来电 ${t.caller}`);
  if (t.unit) parts.push(`责任单位 ${t.unit}`);
  return parts.join(" · ");
}

// In full screen (the wallboard) only the full-screen element is shown: take the alerts there.
function follow() {
  if (document.fullscreenElement) document.fullscreenElement.prepend(region);
  else home.parent.insertBefore(region, home.next);
}

const home = region && { parent: region.parentNode, next: region.nextSibling };
if (region) {
  document.addEventListener("fullscreenchange", follow);
  subscribe("alert/urgent_ticket", (t) => {
    banner("urgent", `紧急工单 ${t.ticket_id}：`, describe(t) || "请立即处理", t.ticket_id);
  });
  subscribe("alert/ticket_overdue", (t) => {
    const steps = (t.steps || []).map((s) => STEPS[s] || s).join("、");
    banner("overdue", `工单 ${t.ticket_id} 已超时：`, steps ? `${steps}环节` : describe(t), t.ticket_id);
  });
  subscribe("alert/survey_unsatisfied", (s) => {
    const who = s.agent_member || s.agent_interface || "未知坐席";
    const text = `来电 ${s.caller_number || "未知号码"} 评价坐席 ${who}，请回访`;
    const call = encodeURIComponent(s.call_id);
    banner("overdue", "客户不满意：", text, null, `/calls/${call}`, `查看通话 ${s.call_id}`);
  });
}
