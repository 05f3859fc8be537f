// Actions on the switch from a live page (示忙, 恢复, 签出, 监听/耳语/强插): a POST to the
// JSON API (`/api/supervision/...`) with the session's CSRF token. Rule: what the server
// answers is what the person reads; a refusal comes back as its Chinese message, never
// as a bare status code.

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  } catch {
    return "";
  }
}

// {ok, data, message}: data is the API's answer, message its Chinese text when refused.
export async function act(path, body) {
  let response;
  try {
    response = await fetch(`/api/supervision/${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body),
    });
  } catch {
    return { ok: false, message: "无法连接服务器：请检查网络后重试" };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok) return { ok: true, data };
  if (response.status === 401) return { ok: false, message: "登录已超时：请刷新页面，重新登录后再操作" };
  const message = data && typeof data.message === "string" ? data.message : "";
  return { ok: false, message: message || `操作未完成（${response.status}）：请刷新页面后重试` };
}

export const SPY_MODES = [
  ["listen", "监听", "只听不说，坐席和客户都听不到您"],
  ["whisper", "耳语", "您可以对坐席说话，客户听不到"],
  ["barge", "强插", "您与坐席、客户三方通话"],
];
