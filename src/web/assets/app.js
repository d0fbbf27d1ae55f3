// The live page: one snapshot from /api/snapshot, then the deltas of /api/events applied to
// the same maps, and the visible view redrawn at most once per animation frame. Tables are
// keyed: a device row is rebuilt only when the server sent that device again, attempts and
// adverts are prepended, so a frame costs what changed, not what is shown.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => token ? path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : path;

const state = {
  seq: 0, header: null, radios: [],
  devices: new Map(), leases: new Map(), ticks: [], alarms: new Map(),
  attempts: [], adverts: [], clients: [], refused: [],
};
// Figures a test or a person can read: updates applied, bytes received, render cost, and
// lag: from the server sending an update (its `sent_unix_ms`) to the frame that drew it.
const stats = window.bluefleetStats = {
  updates: 0, bytes: 0, renders: 0, lastRenderMs: 0, maxRenderMs: 0, totalRenderMs: 0,
  appliedSeq: 0, drawnSeq: 0, lagMs: 0, maxLagMs: 0, totalLagMs: 0, lagSamples: 0,
};
// Rows to redraw: devices sent again, attempts and adverts not yet drawn.
const dirty = { devices: new Set(), attempts: [], adverts: [] };
let oldestUndrawnSentMs = null;
let view = "radios";
let drawPending = false;

const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const secs = (t) => t == null ? "—" : clock(t);
function clock(t) {
  const s = Math.max(0, Math.floor(t)), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s % 60).padStart(2, "0");
}
// A colour per device: FNV-1a of its address, spread round the colour wheel.
function hue(address) {
  let h = 2166136261;
  for (const c of address) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h % 360;
}
const deviceName = (a) => state.devices.get(a)?.name ?? a;
const MAX_ATTEMPTS = 2000, MAX_ADVERTS = 500, KEEP_S = 86400, ATTEMPT_ROWS = 300, ADVERT_ROWS = 200;

function apply(update) {
  state.seq = update.seq;
  state.header = update.header;
  if (update.radios) state.radios = update.radios;
  if (update.clients) state.clients = update.clients;
  if (update.refused) state.refused = update.refused;
  for (const d of update.devices) { state.devices.set(d.address, d); dirty.devices.add(d.address); }
  for (const l of update.leases) state.leases.set(l.id, l);
  for (const a of update.alarms) state.alarms.set(a.id, a);
  state.ticks.push(...update.ticks);
  state.attempts.push(...update.attempts);
  state.adverts.push(...update.adverts);
  dirty.attempts.push(...update.attempts);
  dirty.adverts.push(...update.adverts);
  if (dirty.attempts.length > ATTEMPT_ROWS) dirty.attempts.splice(0, dirty.attempts.length - ATTEMPT_ROWS);
  if (dirty.adverts.length > MAX_ADVERTS) dirty.adverts.splice(0, dirty.adverts.length - MAX_ADVERTS);
  if (update.sent_unix_ms != null && oldestUndrawnSentMs == null) oldestUndrawnSentMs = update.sent_unix_ms;
  stats.appliedSeq = update.seq;
  if (state.attempts.length > MAX_ATTEMPTS) state.attempts.splice(0, state.attempts.length - MAX_ATTEMPTS);
  if (state.adverts.length > MAX_ADVERTS) state.adverts.splice(0, state.adverts.length - MAX_ADVERTS);
  const horizon = update.header.now_s - KEEP_S;
  if (state.ticks.length && state.ticks[0].at_s < horizon) state.ticks = state.ticks.filter((t) => t.at_s >= horizon);
  for (const [id, l] of state.leases) if (l.end_s != null && l.end_s < horizon) state.leases.delete(id);
  stats.updates++;
  scheduleDraw();
}

function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    const started = performance.now();
    draw();
    const took = performance.now() - started;
    stats.renders++; stats.lastRenderMs = took; stats.totalRenderMs += took;
    stats.maxRenderMs = Math.max(stats.maxRenderMs, took);
    stats.drawnSeq = state.seq;
    if (oldestUndrawnSentMs != null) {
      const lag = Date.now() - oldestUndrawnSentMs;
      stats.lagMs = lag; stats.maxLagMs = Math.max(stats.maxLagMs, lag);
      stats.totalLagMs += lag; stats.lagSamples++;
      oldestUndrawnSentMs = null;
    }
    document.body.dataset.seq = state.seq;
  });
}

function draw() {
  const h = state.header;
  if (h) {
    document.getElementById("clock").textContent = "t = " + clock(h.now_s) + (h.finished ? " (finished)" : "");
    drawLosses(h.losses);
  }
  ({ radios: drawRadios, timeline: drawTimeline, devices: drawDevices, attempts: drawAttempts, adverts: drawAdverts, clients: drawClients })[view]();
}

// What the fleet's bounded queues dropped, in the header on every view; "nothing lost" when
// nothing was, so a page that cannot read the figures does not look like a loss-free fleet.
const LOSS_WORDS = [
  ["adverts_dropped", "adverts dropped by radios"],
  ["notifications_dropped", "notifications dropped by links"],
  ["device_adverts_dropped", "adverts not handed to devices"],
  ["watcher_adverts_lost", "adverts lost by watchers"],
  ["feed_lost", "adverts lost by feeds"],
];
function drawLosses(losses) {
  const el = document.getElementById("losses");
  const parts = LOSS_WORDS.filter(([key]) => losses[key] > 0).map(([key, words]) => losses[key] + " " + words);
  el.textContent = parts.length ? "lost: " + parts.join(", ") : "nothing lost";
  el.className = parts.length ? "state-quiet" : "hint";
}

function commandButton(path, label) {
  return state.header?.commands ? `<button class="cmd" data-command="${esc(path)}">${esc(label)}</button>` : "";
}

function drawRadios() {
  document.querySelector("#radios tbody").innerHTML = state.radios.map((r) => `
    <tr data-radio="${esc(r.radio)}">
      <td>${esc(r.radio)}</td><td>${esc(r.kind)}</td>
      <td class="state state-${esc(r.state)}">${esc(r.state)}${r.state === "quiet" ? " " + Math.round(r.last_advert_age_s) + " s" : ""}${r.recovery ? '<br><span class="hint">' + esc(r.recovery) + "</span>" : ""}</td>
      <td class="${r.scan_mode && r.scan_mode.actual !== r.scan_mode.wanted ? "state-quiet" : ""}">${esc(r.scan_mode_words ?? "not reported")}</td>
      <td class="num">${r.slots_used}${r.slots_foreign ? " + " + r.slots_foreign + " foreign" : ""} / ${r.slot_limit}</td>
      <td>${r.holders.map((x) => esc(x.name)).join(", ") || '<span class="hint">none</span>'}</td>
      <td class="num">${r.connect_queue}</td>
      <td class="num">${r.adverts_per_s.toFixed(1)}${r.adverts_dropped ? '<br><span class="state-quiet">' + r.adverts_dropped + " dropped</span>" : ""}</td>
      <td class="num">${r.last_advert_age_s == null ? "—" : r.last_advert_age_s.toFixed(1) + " s ago"}</td>
      <td class="num">${r.attempts}</td>
      <td class="num">${r.clients_served ?? "—"}</td>
      <td>${commandButton("radio/" + r.radio + "/" + (r.state === "down" ? "up" : "down"), r.state === "down" ? "bring up" : "take down")}</td>
    </tr>`).join("");
}

const ROW = 9, LEFT = 130, TOP = 18;
// Each lease gets a row inside its radio's lane: the first row free when it starts, so
// leases held at once sit one above the other (a lane has at least slot-limit rows).
function rowsOf(leases) {
  const rows = new Map(), ends = new Map();
  for (const l of [...leases].sort((a, b) => a.start_s - b.start_s || a.id - b.id)) {
    const lane = ends.get(l.radio) ?? [];
    let row = lane.findIndex((end) => end <= l.start_s);
    if (row < 0) { row = lane.length; lane.push(0); }
    lane[row] = l.end_s ?? Infinity;
    ends.set(l.radio, lane);
    rows.set(l.id, row);
  }
  return { rows, counts: new Map([...ends].map(([r, lane]) => [r, lane.length])) };
}
function drawTimeline() {
  const now = state.header?.now_s ?? 0;
  const from = Math.max(0, now - Number(document.getElementById("window").value));
  const windowS = Math.max(60, now - from);
  const host = document.getElementById("timeline");
  const width = Math.max(600, host.clientWidth || 1000);
  const x = (t) => LEFT + (Math.max(t, from) - from) / windowS * (width - LEFT - 10);
  const visible = [...state.leases.values()].filter((l) => l.end_s == null || l.end_s >= from);
  const { rows, counts } = rowsOf(visible);
  const lanes = new Map();
  let y = TOP;
  for (const r of state.radios) {
    const height = Math.max(r.slot_limit, counts.get(r.radio) ?? 0) * ROW + 12;
    lanes.set(r.radio, { top: y, height });
    y += height;
  }
  const height = y + 4;
  const parts = [];
  for (let i = 0; i <= 6; i++) {
    const t = from + windowS * i / 6, px = x(t);
    parts.push(`<line x1="${px}" x2="${px}" y1="${TOP - 4}" y2="${height}" stroke="#eef1f5"/>`,
      `<text class="axis" x="${px}" y="10" text-anchor="middle">${clock(t)}</text>`);
  }
  for (const [radio, lane] of lanes) {
    parts.push(`<text class="lane" x="4" y="${lane.top + 14}">${esc(radio)}</text>`,
      `<line x1="${LEFT}" x2="${width - 10}" y1="${lane.top + lane.height}" y2="${lane.top + lane.height}" stroke="#cbd2dc"/>`);
  }
  for (const l of visible) {
    const lane = lanes.get(l.radio);
    if (!lane) continue;
    const x0 = x(l.start_s), x1 = Math.max(x(l.end_s ?? now), x0 + 1.5);
    parts.push(`<rect class="lease" data-radio="${esc(l.radio)}" data-device="${esc(l.device)}" data-open="${l.end_s == null}"
      x="${x0.toFixed(1)}" y="${lane.top + 2 + rows.get(l.id) * ROW}" width="${(x1 - x0).toFixed(1)}" height="${ROW - 2}"
      fill="hsl(${hue(l.device)},65%,55%)"><title>${esc(deviceName(l.device))} on ${esc(l.radio)}: ${clock(l.start_s)}–${l.end_s == null ? "now" : clock(l.end_s)}</title></rect>`);
  }
  for (const t of state.ticks) {
    const lane = lanes.get(t.radio);
    if (!lane || t.at_s < from) continue;
    const px = x(t.at_s).toFixed(1), y = lane.top + lane.height - 9;
    parts.push(`<line class="tick tick-${t.class}" data-class="${t.class}" x1="${px}" x2="${px}" y1="${y}" y2="${y + 7}"/>`);
  }
  for (const a of state.alarms.values()) {
    const lane = lanes.get(a.radio);
    if (!lane || (a.until_s != null && a.until_s < from)) continue;
    const x0 = x(a.since_s), x1 = Math.max(x(a.until_s ?? now), x0 + 3);
    parts.push(`<rect class="alarm" data-kind="${a.kind}" x="${x0}" y="${lane.top + 1}" width="${x1 - x0}" height="${lane.height - 2}"><title>${a.kind}: ${esc(deviceName(a.device))}</title></rect>`);
  }
  host.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
  const alarms = [...state.alarms.values()].reverse();
  document.querySelector("#alarms tbody").innerHTML = alarms.length ? alarms.map((a) => `
    <tr class="alarm-row"><td>${a.kind}</td><td>${esc(a.radio)}</td><td>${esc(deviceName(a.device))}</td><td>${secs(a.since_s)}</td><td>${a.until_s == null ? "now" : secs(a.until_s)}</td></tr>`).join("")
    : '<tr><td colspan="5" class="hint">no stuck slot, no double holder</td></tr>';
}

// The devices table, keyed by address: rows are made once, in name order, and a row's cells
// are rebuilt only when the server sent that device again. A new device (or a changed name or
// managed flag, which move a row) rebuilds the order.
const deviceRows = new Map();
const sortKey = (d) => (d.managed ? "0" : "1") + d.name;
function deviceCells(d) {
  return `
      <td>${esc(d.name)}<br><span class="mono">${esc(d.address)}</span></td>
      <td class="state state-${d.state}">${d.state}</td><td>${esc(d.radio ?? "—")}</td>
      <td class="nowrap">${d.rssi.map(([r, v]) => esc(r) + " " + (v ?? "?")).join("<br>")}</td>
      <td class="nowrap">${d.best_radio ? esc(d.best_radio) + " " + (d.best_rssi ?? "?") + " dBm" : "—"}</td>
      <td>${d.zone ?? "—"}</td>
      <td class="num">${d.interval_s == null ? "—" : d.interval_s.toFixed(1) + " s"}</td>
      <td class="num">${secs(d.gone_at_s)}</td>
      <td class="num">${d.subscribers} / ${d.lagged}</td>
      <td class="mono">${esc(d.last_value ?? "—")}</td>
      <td class="readings">${esc(d.readings ?? "—")}</td>
      <td class="num">${secs(d.backoff_until_s)}</td>
      <td>${d.managed ? commandButton("device/" + d.address + "/disconnect", "disconnect") : ""}</td>`;
}
// Rows scrolled out of sight are not rebuilt: they stay marked stale and are rebuilt when they
// come into view, so a frame costs the visible rows that changed, whatever the fleet's size.
const visibleDevices = new Set();
const staleDevices = new Set();
const sight = new IntersectionObserver((entries) => {
  let show = false;
  for (const e of entries) {
    const address = e.target.dataset.device;
    if (e.isIntersecting) { visibleDevices.add(address); show ||= staleDevices.has(address); }
    else visibleDevices.delete(address);
  }
  if (show) scheduleDraw();
}, { rootMargin: "200px" });
function drawDevices() {
  const moved = [...dirty.devices].some((a) => deviceRows.get(a)?.dataset.key !== sortKey(state.devices.get(a)));
  if (moved) {
    const rows = [...state.devices.values()].sort((a, b) => (b.managed - a.managed) || a.name.localeCompare(b.name));
    for (const d of rows) {
      let tr = deviceRows.get(d.address);
      if (!tr) {
        tr = document.createElement("tr"); tr.dataset.device = d.address; deviceRows.set(d.address, tr);
        tr.innerHTML = deviceCells(d);
        sight.observe(tr);
      }
      tr.dataset.key = sortKey(d);
    }
    document.querySelector("#devices tbody").replaceChildren(...rows.map((d) => deviceRows.get(d.address)));
  }
  for (const address of dirty.devices) staleDevices.add(address);
  dirty.devices.clear();
  for (const address of staleDevices) {
    if (!visibleDevices.has(address)) continue;
    deviceRows.get(address).innerHTML = deviceCells(state.devices.get(address));
    staleDevices.delete(address);
  }
}

// Newest first: rows not yet drawn go on top, the oldest fall off the bottom.
function prepend(tbody, rows, make, keep) {
  if (!rows.length) return;
  const fragment = document.createElement("tbody");
  fragment.innerHTML = rows.slice().reverse().map(make).join("");
  tbody.prepend(...fragment.children);
  while (tbody.children.length > keep) tbody.lastElementChild.remove();
}

function attemptRow(a) {
  return `
    <tr data-attempt="${a.id}">
      <td class="num">${clock(a.at_s)}</td><td>${esc(a.name)}</td><td>${esc(a.radio ?? "—")}</td>
      <td class="outcome-${a.outcome}">${a.outcome}</td><td>${a.class}</td>
      <td>${a.considered.map((c) => esc(c.radio) + ": " + esc(c.verdict)).join("<br>")}</td>
      <td>${esc(a.explanation)}${a.error ? '<br><span class="mono">' + esc(a.error) + "</span>" : ""}</td>
      <td class="num">${secs(a.next_retry_s)}</td>
    </tr>`;
}
function drawAttempts() {
  prepend(document.querySelector("#attempts tbody"), dirty.attempts, attemptRow, ATTEMPT_ROWS);
  dirty.attempts = [];
  const missed = state.header?.attempt_events_missed ?? 0;
  document.getElementById("attempts-missed").textContent = missed ? missed + " attempt events missed (the page fell behind the fleet)" : "";
}

function advertRow(a) {
  return `
    <tr data-advert="${a.id}">
      <td class="num">${clock(a.at_s)}</td><td class="mono">${esc(a.address)}</td><td>${esc(deviceName(a.address))}</td>
      <td>${esc(a.radio)}</td><td class="num">${a.rssi}</td>
      <td class="mono">${esc(a.raw_hex ?? "—")}</td><td class="mono">${a.fields.map(esc).join("<br>")}</td>
    </tr>`;
}
const advertMatches = (filter) => (a) => !filter || a.address.toLowerCase().includes(filter) || deviceName(a.address).toLowerCase().includes(filter);
let advertFilter = null;
function drawAdverts() {
  const filter = document.getElementById("filter").value.toLowerCase();
  const tbody = document.querySelector("#adverts tbody");
  if (filter !== advertFilter) {
    // A new filter: redraw from everything kept.
    advertFilter = filter;
    tbody.replaceChildren();
    dirty.adverts = state.adverts.slice();
  }
  prepend(tbody, dirty.adverts.filter(advertMatches(filter)).slice(-ADVERT_ROWS), advertRow, ADVERT_ROWS);
  dirty.adverts = [];
}

const wallClock = (unixS) => new Date(unixS * 1000).toISOString().slice(11, 19) + " UTC";
function drawClients() {
  document.querySelector("#clients tbody").innerHTML = state.clients.length ? state.clients.map((c) => `
    <tr data-client="${esc(c.peer)}">
      <td class="mono">${esc(c.peer)}${c.encrypted ? " 🔒" : ""}</td><td>${esc(c.proxy)}</td>
      <td class="num">${wallClock(c.since_unix_s)}</td><td>${esc(c.client_info || "—")}</td>
      <td>${[c.adverts && "adverts", c.slot_reports && "slot reports"].filter(Boolean).join(", ") || "none"}</td>
      <td>${c.connections.map((h) => esc(h.name)).join("<br>") || '<span class="hint">none</span>'}</td>
      <td>${c.requests.map(([k, n]) => esc(k) + " " + n).join("<br>")}</td>
    </tr>`).join("") : '<tr><td colspan="7" class="hint">no proxy client connected (or no proxy served)</td></tr>';
  document.querySelector("#refused tbody").innerHTML = state.refused.slice().reverse().map((r) => `
    <tr><td class="num">${wallClock(r.at_unix_s)}</td><td class="mono">${esc(r.peer)}</td><td>${esc(r.reason)}</td></tr>`).join("")
    || '<tr><td colspan="3" class="hint">none</td></tr>';
}

function show(name) {
  view = name;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.view === name);
  for (const s of document.querySelectorAll(".view")) s.classList.toggle("active", s.id === "view-" + name);
  scheduleDraw();
}

document.getElementById("tabs").addEventListener("click", (e) => { if (e.target.dataset.view) show(e.target.dataset.view); });
document.getElementById("window").addEventListener("change", scheduleDraw);
document.getElementById("filter").addEventListener("input", scheduleDraw);
document.addEventListener("click", async (e) => {
  const path = e.target.dataset?.command;
  if (path) await fetch(withToken("/api/commands/" + path), { method: "POST" });
});

async function start() {
  const response = await fetch(withToken("/api/snapshot"));
  const text = await response.text();
  stats.bytes += text.length;
  apply(JSON.parse(text));
  const live = document.getElementById("live");
  const source = new EventSource(withToken("/api/events?since=" + state.seq));
  source.addEventListener("open", () => { live.textContent = "live"; live.className = "on"; });
  source.addEventListener("error", () => { live.textContent = "reconnecting…"; live.className = "off"; });
  source.addEventListener("update", (e) => { stats.bytes += e.data.length; apply(JSON.parse(e.data)); });
}
start();
