// Cachemere dashboard: polls the read-only JSON API of metrics-port once a second and renders it.
"use strict";

const POLL_MS = 1000;
const HISTORY = 120;                 // hit-ratio points kept (two minutes)
const hitHistory = [];
let lastCounts = null;
let selectedService = null;

const STATUS_COLOURS = {
  succeeded: "#5cb85c", running: "#f0ad4e", failed: "#d9534f", caught: "#d9534f", timed_out: "#d9534f",
  aborted: "#999", pending: "#e4e7ee", entered: "#f0ad4e",
};

function $(id) { return document.getElementById(id); }

function human(bytes) {
  const units = ["B", "K", "M", "G", "T"];
  let i = 0; let n = bytes;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(2) : n) + units[i];
}

function fillTable(id, rows, onClick) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const cell of row.cells) {
      const td = document.createElement("td");
      td.textContent = cell === null || cell === undefined ? "" : String(cell);
      tr.appendChild(td);
    }
    if (onClick) { tr.classList.add("clickable"); tr.addEventListener("click", () => onClick(row)); }
    body.appendChild(tr);
  }
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

// A panel the logged-in ACL user may not read (403: no +client|list, no +slowlog|get) shows that, and the
// rest of the page goes on.
async function getPermitted(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (response.status === 403) return { forbidden: true };
  if (!response.ok) throw new Error(path + ": " + response.status);
  return response.json();
}

function drawHitChart() {
  const canvas = $("hit-chart");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#ccd"; ctx.strokeRect(0, 0, canvas.width, canvas.height);
  if (hitHistory.length < 2) return;
  ctx.strokeStyle = "#2d6cdf"; ctx.lineWidth = 2; ctx.beginPath();
  hitHistory.forEach((value, i) => {
    const x = (i / (HISTORY - 1)) * canvas.width;
    const y = canvas.height - value * (canvas.height - 4) - 2;
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

function renderOverview(o) {
  $("identity").textContent = `redis ${o.version} · ${o.role}`;
  $("key-count").textContent = o.keys;
  $("memory").textContent = human(o.used_memory) + (o.maxmemory ? " / " + human(o.maxmemory) : "");
  $("ops").textContent = o.ops_per_sec;
  $("client-count").textContent = o.connected_clients;
  $("uptime").textContent = o.uptime_seconds + "s";
  // hit ratio over the last poll interval (the cumulative one hides changes)
  if (lastCounts) {
    const hits = o.keyspace_hits - lastCounts.hits; const misses = o.keyspace_misses - lastCounts.misses;
    if (hits + misses > 0) { hitHistory.push(hits / (hits + misses)); if (hitHistory.length > HISTORY) hitHistory.shift(); }
  }
  lastCounts = { hits: o.keyspace_hits, misses: o.keyspace_misses };
  $("hit-ratio").textContent = o.hit_ratio === null ? "-" : (o.hit_ratio * 100).toFixed(1) + "%";
  drawHitChart();
  fillTable("keyspace", o.dbs.map(d => ({ cells: ["db" + d.db, d.keys, d.expires] })));
  fillTable("types", Object.entries(o.types).sort().map(([t, n]) => ({ cells: [t, n] })));
}

function renderReplication(r) {
  const f = r.fields;
  let text = "role: " + (f.role || "?");
  if (f.role === "slave") text += ` of ${f.master_host}:${f.master_port} (link ${f.master_link_status})`;
  if (f.master_repl_offset !== undefined) text += ` · offset ${f.master_repl_offset}`;
  $("repl-role").textContent = text;
  fillTable("replicas", r.replicas.map(s => ({ cells: [`${s.ip}:${s.port}`, s.state, s.offset, s.lag] })));
}

function renderLatency(l) {
  fillTable("latency", l.families.map(f => ({
    cells: [f.family, f.calls, f.mean_usec.toFixed(1), f.p50_usec_max, f.p99_usec_max] })));
}

function renderClients(c) {
  if (c.forbidden) { fillTable("clients", [{ cells: ["not permitted for this user (CLIENT LIST)"] }]); return; }
  fillTable("clients", c.clients.map(x => ({ cells: [x.id, x.addr, x.name, x.age, x.idle, x.db, x.cmd] })));
}

function renderSlowlog(s) {
  if (s.forbidden) { fillTable("slowlog", [{ cells: ["not permitted for this user (SLOWLOG GET)"] }]); return; }
  fillTable("slowlog", s.entries.map(e => ({
    cells: [e.id, new Date(e.time * 1000).toLocaleTimeString(), e.usec, e.argv.join(" ")] })));
}

function renderServices(s) {
  fillTable("services", s.services.map(x => ({ cells: [x.type, x.db, x.key, JSON.stringify(x.summary)], item: x })),
    row => { selectedService = row.item; refreshService(); });
}

// A workflow's detail carries {graph: {nodes: [{id, type, status}], edges: [[from, to]]}}: lay it out in
// layers (longest path from the start) and colour each state by its status.
function drawGraph(graph) {
  const svg = $("graph");
  svg.replaceChildren();
  if (!graph || !graph.nodes || !graph.nodes.length) { svg.setAttribute("height", 0); return; }
  const layer = {}; graph.nodes.forEach(n => { layer[n.id] = 0; });
  for (let pass = 0; pass < graph.nodes.length; pass++) {
    for (const [a, b] of graph.edges) {
      if (layer[b] !== undefined && layer[a] !== undefined && layer[b] < layer[a] + 1 && layer[a] + 1 < graph.nodes.length) layer[b] = layer[a] + 1;
    }
  }
  const columns = {}; const pos = {};
  for (const n of graph.nodes) {
    const l = layer[n.id]; columns[l] = (columns[l] || 0) + 1;
    pos[n.id] = { x: 20 + (columns[l] - 1) * 170, y: 20 + l * 60 };
  }
  const height = 60 + Math.max(...Object.values(layer)) * 60;
  svg.setAttribute("height", height);
  const ns = "http://www.w3.org/2000/svg";
  for (const [a, b] of graph.edges) {
    if (!pos[a] || !pos[b]) continue;
    const line = document.createElementNS(ns, "line");
    line.setAttribute("class", "edge");
    line.setAttribute("x1", pos[a].x + 70); line.setAttribute("y1", pos[a].y + 30);
    line.setAttribute("x2", pos[b].x + 70); line.setAttribute("y2", pos[b].y);
    svg.appendChild(line);
  }
  for (const n of graph.nodes) {
    const g = document.createElementNS(ns, "g");
    g.setAttribute("class", "node"); g.setAttribute("data-state", n.id); g.setAttribute("data-status", n.status || "pending");
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", pos[n.id].x); rect.setAttribute("y", pos[n.id].y);
    rect.setAttribute("width", 140); rect.setAttribute("height", 30); rect.setAttribute("rx", 5);
    rect.setAttribute("fill", STATUS_COLOURS[n.status] || STATUS_COLOURS.pending);
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", pos[n.id].x + 8); text.setAttribute("y", pos[n.id].y + 19);
    text.textContent = n.id + (n.type ? " (" + n.type + ")" : "");
    g.appendChild(rect); g.appendChild(text); svg.appendChild(g);
  }
}

async function refreshService() {
  if (!selectedService) return;
  const s = selectedService;
  try {
    const detail = await getJSON(`/api/service?db=${s.db}&key=${encodeURIComponent(s.key)}`);
    $("service-title").textContent = `${detail.type} ${detail.key}`;
    const d = detail.detail || {};
    drawGraph(d.graph || (d.nodes ? d : null));
    $("service-json").textContent = JSON.stringify(detail.detail, null, 2);
  } catch (err) {
    $("service-json").textContent = String(err);
  }
}

async function poll() {
  try {
    const [overview, replication, latency, clients, slowlog, services] = await Promise.all([
      getJSON("/api/overview"), getJSON("/api/replication"), getJSON("/api/latency"),
      getPermitted("/api/clients"), getPermitted("/api/slowlog"), getJSON("/api/services")]);
    renderOverview(overview); renderReplication(replication); renderLatency(latency);
    renderClients(clients); renderSlowlog(slowlog); renderServices(services);
    await refreshService();
    $("status").textContent = "live"; $("status").classList.remove("down");
  } catch (err) {
    $("status").textContent = "unreachable"; $("status").classList.add("down");
  }
  setTimeout(poll, POLL_MS);
}

poll();
