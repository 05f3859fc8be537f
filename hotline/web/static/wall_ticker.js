// The wallboard's one ticker. Rule: a cell that counts up from a moment (状态时长, 最长等待,
// 已等待) is registered once and recomputed on the page's single one-second tick; its text,
// or its red mark past the limit, is written only when it changes. Cells on screen are
// recomputed every tick; off-screen ones (an IntersectionObserver says which) a tenth at a
// time, so each about every ten seconds, and at once when they scroll into view: at a real
// centre's size most of the ~800 timers are out of sight.

export function duration(seconds) {
  if (seconds === null || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

const SPREAD = 10; // off-screen cells: one tenth of them per tick

// now(): the server's clock in ms. Returns {set(td, iso, limit), drop(td), tick()}.
export function ticker(now) {
  const cells = new Map(); // td -> {td, at, limit, text, alarm, seen, slot}
  let turn = 0;
  let slots = 0;

  function paint(t, at) {
    const s = t.at === null ? null : (at - t.at) / 1000;
    const text = duration(s);
    if (text !== t.text) {
      t.td.textContent = text;
      t.text = text;
    }
    const alarm = t.limit > 0 && s !== null && s > t.limit;
    if (alarm !== t.alarm) {
      t.td.classList.toggle("alarm", alarm);
      t.alarm = alarm;
    }
  }

  const watcher =
    typeof IntersectionObserver === "function"
      ? new IntersectionObserver((entries) => {
          const at = now();
          for (const e of entries) {
            const t = cells.get(e.target);
            if (!t) continue;
            t.seen = e.isIntersecting;
            if (t.seen) paint(t, at);
          }
        })
      : null;

  return {
    // (Re)start the cell's count from `iso` (none: "—"), red past `limit` seconds (0: never).
    set(td, iso, limit) {
      let t = cells.get(td);
      if (!t) {
        t = { td, at: null, limit: 0, text: td.textContent, alarm: td.classList.contains("alarm") };
        t.seen = !watcher;
        t.slot = slots++ % SPREAD;
        cells.set(td, t);
        watcher?.observe(td);
      }
      const at = iso ? Date.parse(iso) : null;
      t.at = Number.isNaN(at) ? null : at;
      t.limit = limit || 0;
      paint(t, now());
    },
    // The cell left the page: no more ticks for it.
    drop(td) {
      if (cells.delete(td)) watcher?.unobserve(td);
    },
    tick() {
      const at = now();
      turn = (turn + 1) % SPREAD;
      for (const t of cells.values()) if (t.seen || t.slot === turn) paint(t, at);
    },
  };
}
