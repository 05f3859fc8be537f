// 质检 review page: the player (wavesurfer.js drawing the server's per-channel peaks over
// the audited Range audio), the transcript following playback, hit selection and keys.
// Rule: the audio element is the one source of the position; the waveform, the highlighted
// utterance and the hit regions only follow it, and decisions stay plain htmx forms.
// The audio is fetched only when someone plays or seeks (an utterance, a hit, the
// waveform): the waveform is drawn from the server's peaks alone, so opening the page
// sends no audio and writes no "play" entry in the audit log.
import WaveSurfer from "/static/vendor/wavesurfer/wavesurfer.esm.js";
import RegionsPlugin from "/static/vendor/wavesurfer/plugins/regions.esm.js";

const player = document.getElementById("player");
const audio = document.getElementById("review-audio");
const playButton = document.getElementById("play");
const position = document.getElementById("position");
const status = document.getElementById("waveform-status");
const lines = Array.from(document.querySelectorAll("#lines .line"));
const state = { ws: null, regions: null, selected: null, playing: null };
window.hotlineReview = state;

const COLORS = {
  pending: "rgba(240, 160, 32, 0.30)",
  confirmed: "rgba(180, 35, 24, 0.35)",
  overturned: "rgba(120, 130, 140, 0.18)",
};

const clock = (t) => {
  const s = Math.max(0, Math.floor(t || 0));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};

function mark(name) {
  if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
}

// --- playback ---------------------------------------------------------------------------

// Give the audio element its source (once): from here on the browser fetches the audio,
// with the position already chosen (a click on the waveform before any playback).
function attach() {
  if (!audio || !player || audio.getAttribute("src")) return;
  const at = audio.currentTime;
  mark("review:play");
  audio.preload = "auto";
  audio.src = player.dataset.audio;
  if (at > 0) audio.currentTime = at;
}

function seek(seconds) {
  if (!audio) return;
  attach();
  audio.currentTime = Math.max(0, Number(seconds) || 0);
  follow();
}

function toggle() {
  if (!audio) return;
  attach();
  if (audio.paused) audio.play().catch(() => {}); else audio.pause();
}

function follow() {
  const t = audio ? audio.currentTime : 0;
  if (position) position.textContent = clock(t);
  let current = null;
  for (const li of lines) {
    if (Number(li.dataset.start) <= t + 0.05) current = li; else break;
  }
  if (current && t > Number(current.dataset.end) + 2) current = null;  // in a pause
  if (current === state.playing) return;
  state.playing?.classList.remove("playing");
  state.playing?.removeAttribute("aria-current");
  state.playing = current;
  if (current) {
    current.classList.add("playing");
    current.setAttribute("aria-current", "true");
    const box = current.closest(".transcript-card");
    if (box) {
      const r = current.getBoundingClientRect(), b = box.getBoundingClientRect();
      if (r.top < b.top || r.bottom > b.bottom) current.scrollIntoView({ block: "center" });
    }
  }
}

if (audio) {
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);
  audio.addEventListener("play", () => { if (playButton) playButton.textContent = "暂停"; });
  audio.addEventListener("pause", () => { if (playButton) playButton.textContent = "播放"; });
  audio.addEventListener("canplay", () => mark("review:playable"), { once: true });
  audio.addEventListener("error", () => {
    if (!audio.getAttribute("src")) return;
    if (status) status.textContent = "录音无法播放：请刷新页面，或联系管理员检查归档存储。";
  });
}
playButton?.addEventListener("click", toggle);

// --- the waveform -----------------------------------------------------------------------

function hitItems() {
  return Array.from(document.querySelectorAll("#hits li.hit"));
}

function drawRegions() {
  if (!state.regions) return;
  state.regions.clearRegions();
  const names = (player?.dataset.channels || "").split(",");
  for (const li of hitItems()) {
    const channelIdx = names.indexOf(li.dataset.channel);
    const start = Number(li.dataset.start);
    state.regions.addRegion({
      id: `hit-${li.dataset.hit}`,
      start,
      end: Math.max(Number(li.dataset.end), start + 0.3),
      color: COLORS[li.dataset.verdict] || COLORS.pending,
      channelIdx: names.length > 1 && channelIdx >= 0 ? channelIdx : undefined,
      drag: false,
      resize: false,
    });
  }
}

async function drawWaveform() {
  if (!player || !audio) return;
  let peaks;
  try {
    const response = await fetch(player.dataset.peaks, { credentials: "same-origin" });
    if (!response.ok) throw new Error(await response.text());
    peaks = await response.json();
  } catch (err) {
    if (status) status.textContent = "波形暂不可用，录音仍可播放。";
    return;
  }
  const split = peaks.channels.length > 1;
  state.regions = RegionsPlugin.create();
  state.ws = WaveSurfer.create({
    container: "#waveform",
    media: audio, // without a source yet: drawn from the peaks alone (see attach)
    peaks: peaks.channels,
    duration: peaks.duration,
    height: 56,
    waveColor: "#7b93b0",
    progressColor: "#1d5fbf",
    cursorColor: "#b42318",
    barWidth: 1,
    interact: true,
    splitChannels: split
      ? [{ waveColor: "#4f7fb5", progressColor: "#1d5fbf" }, { waveColor: "#5f9f6a", progressColor: "#1a7f37" }]
      : undefined,
    plugins: [state.regions],
  });
  state.ws.once("redrawcomplete", () => {
    mark("review:waveform");
    if (status) status.textContent = "";
  });
  state.ws.once("ready", drawRegions);
  state.ws.on("interaction", () => attach()); // a click on the waveform seeks: fetch now
  state.regions.on("region-clicked", (region, event) => {
    event.stopPropagation();
    select(document.getElementById(region.id), true);
  });
}

// --- hits: selection, keys, and what a decision changes ----------------------------------

function select(li, andSeek) {
  if (!li) return;
  for (const other of hitItems()) {
    other.classList.toggle("selected", other === li);
    if (other === li) other.setAttribute("aria-current", "true"); else other.removeAttribute("aria-current");
  }
  state.selected = li.dataset.hit;
  li.scrollIntoView({ block: "nearest" });
  if (andSeek) seek(li.dataset.start);
}

function step(by) {
  const items = hitItems();
  if (!items.length) return;
  const at = items.findIndex((li) => li.dataset.hit === state.selected);
  const next = at < 0 ? (by > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, at + by));
  select(items[next], true);
}

function decide(kind) {
  const li = state.selected && document.getElementById(`hit-${state.selected}`);
  const button = li?.querySelector(kind === "confirm" ? "button.act-confirm" : "button.act-overturn");
  if (button && !button.disabled) button.click();
}

function afterDecision() {
  // the hit list was swapped in anew: keep the selection, recolour regions and marks
  const li = state.selected && document.getElementById(`hit-${state.selected}`);
  if (li) select(li, false);
  const verdicts = new Map(hitItems().map((h) => [h.dataset.hit, h.dataset.verdict]));
  for (const line of lines) {
    const ids = (line.dataset.hits || "").split(" ").filter(Boolean);
    if (ids.length) line.dataset.verdicts = ids.map((id) => verdicts.get(id) || "").join(" ");
  }
  drawRegions();
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-seek]");
  if (target) {
    const li = target.closest("li.hit");
    if (li) select(li, true); else seek(target.dataset.seek);
  }
});

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const t = event.target;
  if (t.closest && t.closest("input, textarea, select, [contenteditable]")) return;
  const onControl = t.closest && t.closest("button, a");
  if (event.key === " " && !onControl) { event.preventDefault(); toggle(); }
  else if (event.key === "j") step(1);
  else if (event.key === "k") step(-1);
  else if (event.key === "c") decide("confirm");
  else if (event.key === "o") decide("overturn");
});

let redraw = 0;
const afterSwap = () => { cancelAnimationFrame(redraw); redraw = requestAnimationFrame(afterDecision); };
document.body.addEventListener("htmx:afterSettle", afterSwap);
document.body.addEventListener("htmx:oobAfterSwap", afterSwap);
document.body.addEventListener("htmx:afterRequest", (event) => {
  const flash = document.getElementById("flash");
  if (flash && event.detail.successful) flash.textContent = "";
});

afterDecision();
drawWaveform();
