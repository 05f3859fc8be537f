// A wallboard table's body as rows kept in order. Rule: a change moves or inserts only its
// own row (a binary search for its place, one insertBefore); the body is written whole only
// when built from a snapshot. A list is {body, none, cmp, rows}: `rows` are objects with a
// `tr`, sorted by `cmp`; `none` is the row shown when the list is empty.

// A cell with `text` (and class `cls`) appended to `row`.
export function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.append(td);
  return td;
}

// The list of the body `id` (`cols` wide), saying `text` when empty.
export function sortedBody(id, cols, text, cmp) {
  const body = document.getElementById(id);
  const none = document.createElement("tr");
  cell(none, text, "muted").colSpan = cols;
  return { body, none, cmp, rows: [] };
}

export function place(list, r) {
  let lo = 0;
  let hi = list.rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list.cmp(list.rows[mid], r) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.rows.splice(lo, 0, r);
  if (list.none.isConnected) list.none.remove();
  list.body.insertBefore(r.tr, list.rows[lo + 1]?.tr ?? null);
}

export function unplace(list, r) {
  const i = list.rows.indexOf(r);
  if (i >= 0) list.rows.splice(i, 1);
  r.tr.remove();
  if (!list.rows.length) list.body.replaceChildren(list.none);
}

// The whole body from scratch (a snapshot): sorted once, one DOM write.
export function fill(list, rows) {
  list.rows = rows.sort(list.cmp);
  const children = list.body.children;
  const same = rows.length === children.length && rows.every((r, i) => children[i] === r.tr);
  if (same) return; // a fresh snapshot with the same order (a reconnection)
  if (rows.length) list.body.replaceChildren(...rows.map((r) => r.tr));
  else list.body.replaceChildren(list.none);
}

// Keep a row where its sort key puts it.
export function reorder(list, r) {
  const i = list.rows.indexOf(r);
  const prev = list.rows[i - 1];
  const next = list.rows[i + 1];
  if ((!prev || list.cmp(prev, r) <= 0) && (!next || list.cmp(r, next) <= 0)) return;
  list.rows.splice(i, 1);
  place(list, r);
}
