// One Server-Sent-Events stream per page (GET /api/live/events), shared by every module
// that wants live changes: subscribe(topic, fn) calls fn(payload) for each event of that
// topic ("snapshot" first, then "agent/state", "queue/changed", "alert/urgent_ticket" ...).
// The browser reconnects by itself after a dropped connection (the server asks for 3 s);
// when it gives up (the server answered with an error, e.g. while restarting), we open a
// new stream after a pause. Each new stream starts with a fresh snapshot.
// Page modules load one after another, and the stream may open (and deliver its snapshot)
// between two of them: a module asking for "snapshot" after that gets a new stream, so a
// fresh snapshot, and watch() says the current state at once.
const URL_ = "/api/live/events";
const REOPEN_MS = 5000;
const handlers = new Map();
const watchers = new Set();
let source = null;
let current = null; // the connection's last state, once known

function tell(state) {
  current = state;
  for (const fn of watchers) fn(state);
}

function attach(topic) {
  source.addEventListener(topic, (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    for (const fn of handlers.get(topic) || []) fn(data, event);
  });
}

function open() {
  source = new EventSource(URL_);
  for (const topic of handlers.keys()) attach(topic);
  source.addEventListener("open", () => tell("open"));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      tell("closed");
      source.close();
      setTimeout(open, REOPEN_MS);
    } else {
      tell("reconnecting");
    }
  });
}

export function subscribe(topic, fn) {
  // its snapshot may be gone already: then a new stream, which starts with one
  const late = topic === "snapshot" && source !== null && source.readyState === EventSource.OPEN;
  if (!handlers.has(topic)) {
    handlers.set(topic, []);
    if (source) attach(topic);
  }
  handlers.get(topic).push(fn);
  if (late) source.close();
  if (!source || late) open();
}

// fn("open" | "reconnecting" | "closed") whenever the connection changes.
export function watch(fn) {
  watchers.add(fn);
  if (current) fn(current);
}
