// The pod view's script: polls the runner's /api/state every second and draws it. No framework,
// no build step: read it top to bottom.

const $ = (sel, root = document) => root.querySelector(sel);
const POLL_MS = 1000;
let state;
let previous;
/** Recent (time, request count) pairs, for a rate over the last 5 seconds. */
const history = [];
/** The container whose logs are open, if any. */
let logsOf;
const POD_NAMES = { full: 'full', sidecar: 'sidecar', ambassador: 'ambassador-inbound', adapter: 'adapter' };

// What flows in the pod: [from, to, label, the container whose absence breaks it].
function flows(s) {
  const port = (name, i = 0) => s.containers.find((c) => c.name === name)?.ports[i]?.port;
  const has = (name) => s.containers.some((c) => c.name === name);
  return [
    has('ambassador')
      ? ['#client', '[data-container="ambassador"]', `:${port('ambassador')}`, 'ambassador']
      : ['#client', '[data-container="web"]', `:${port('web')}`, 'web'],
    ['[data-container="ambassador"]', '[data-container="web"]', `:${port('web')}`, 'web'],
    ['[data-container="content-sync"]', '[data-volume="content"]', 'publishes', 'content-sync'],
    ['[data-volume="content"]', '[data-container="web"]', 'reads current/', 'web'],
    ['[data-container="web"]', '[data-volume="logs"]', 'access.log', 'web'],
    ['[data-volume="logs"]', '[data-container="log-adapter"]', 'tails', 'log-adapter'],
    ['#prometheus', '[data-container="log-adapter"]', `:${port('log-adapter')}`, 'log-adapter'],
  ];
}

/** A long path that may break after each slash (and nowhere else), so it fits a narrow panel. */
function setPath(el, path) {
  el.textContent = '';
  const parts = path.split('/');
  parts.forEach((part, i) => {
    el.append(i < parts.length - 1 ? `${part}/` : part);
    if (i < parts.length - 1) el.append(document.createElement('wbr'));
  });
}

function fmtAgo(ms) {
  if (ms === undefined || ms === null) return '—';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}
function fmtSeconds(s) {
  if (s === undefined) return '—';
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms` : `${s.toFixed(2)} s`;
}
function fmtCodes(byCode) {
  const entries = Object.entries(byCode ?? {}).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([c, n]) => `${c}: ${n}`).join(', ') : '—';
}
function note(text) {
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  li.append(time, text);
  $('#events').prepend(li);
  while ($('#events').children.length > 40) $('#events').lastElementChild.remove();
}

async function post(path) {
  const res = await fetch(path, { method: 'POST', headers: { 'x-pod-view': '1' } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? res.statusText);
  return body;
}
async function act(label, path, describe) {
  $('#result').textContent = `${label}…`;
  try {
    const body = await post(path);
    const said = describe(body);
    $('#result').textContent = said;
    note(`you: ${said}`);
  } catch (err) {
    $('#result').textContent = `${label} failed: ${err.message}`;
  }
  poll();
}

function drawContainer(c) {
  const card = $(`[data-container="${c.name}"]`);
  if (!card) return;
  card.hidden = false;
  card.dataset.ready = String(c.ready);
  card.dataset.state = c.state;
  const label =
    c.state === 'stopped'
      ? 'stopped'
      : c.state === 'waiting-restart'
        ? 'restarting'
        : c.ready
          ? 'ready'
          : 'not ready';
  $('.state', card).textContent = label;
  $('.ports', card).innerHTML = '';
  for (const p of c.ports) {
    const span = document.createElement('span');
    span.textContent = `:${p.port}`;
    span.title = p.what;
    $('.ports', card).append(span);
  }
  const pid = c.pid ? `pid ${c.pid}` : 'no process';
  $('.detail', card).textContent =
    `${pid} · restarts ${c.restarts}${c.ready ? '' : ` · readyz: ${c.readyDetail}`}`;
  const actions = $('.actions', card);
  if (!actions.childElementCount) {
    const logsButton = document.createElement('button');
    logsButton.type = 'button';
    logsButton.textContent = 'logs';
    logsButton.title = `this container's output, like kubectl logs -c ${c.name}`;
    logsButton.dataset.action = 'logs';
    logsButton.addEventListener('click', () => openLogs(c.name));
    actions.append(logsButton);
    for (const [verb, cls, title] of [
      ['stop', '', 'SIGTERM; stays down until start'],
      ['start', '', 'start it again'],
      ['crash', 'danger', 'SIGKILL; the runner restarts it, as the kubelet would'],
    ]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = verb;
      b.title = title;
      b.className = cls;
      b.dataset.action = verb;
      const api = verb === 'crash' ? 'kill' : verb;
      b.addEventListener('click', () =>
        act(`${verb} ${c.name}`, `/api/containers/${c.name}/${api}`, (s) => `${c.name}: ${s.state}`),
      );
      actions.append(b);
    }
  }
  $('[data-action="stop"]', actions).disabled = c.state === 'stopped';
  $('[data-action="start"]', actions).disabled = c.state !== 'stopped';
}

function draw() {
  const s = state;
  const names = s.containers.map((c) => c.name);
  $('#summary').textContent =
    `${s.pattern === 'full' ? 'the full pod' : `the ${s.pattern} pattern`}: ${names.join(', ')} — ` +
    `${s.containers.filter((c) => c.ready).length}/${s.containers.length} ready`;
  for (const c of s.containers) drawContainer(c);
  for (const v of s.volumes) {
    const el = $(`[data-volume="${v.name}"]`);
    el.hidden = false;
    $('.path', el).textContent = v.path;
    if (v.name === 'logs')
      $('.desc', el).textContent = `/var/log/web — web writes access.log${
        v.mountedBy.includes('log-adapter') ? ', log-adapter reads' : ''
      }`;
  }
  for (const li of document.querySelectorAll('[data-needs]')) li.hidden = !names.includes(li.dataset.needs);
  $('#prometheus').parentElement.hidden = !names.includes('log-adapter');
  $('#site-url').textContent = s.siteUrl;
  $('#site-link').href = s.siteUrl;
  $('#site-link').textContent = s.siteUrl;
  const links = $('#metrics-links');
  if (links.dataset.done !== '1') {
    links.textContent = '';
    for (const c of s.containers.filter((x) => x.metricsUrl)) {
      const a = document.createElement('a');
      a.href = c.metricsUrl;
      a.target = '_blank';
      a.textContent = c.name;
      links.append(a);
    }
    links.dataset.done = '1';
  }
  setPath($('#source-index'), `${s.source}/index.html`);

  $('#web-root').textContent = s.sync ? `current → ${s.sync.snapshot ?? '(none yet)'}` : s.source;
  $('#web-requests').textContent = s.adapter
    ? `${s.adapter.requests ?? 0} (counted by log-adapter)`
    : 'see its access log';

  if (s.sync) {
    $('#sync-snapshot').textContent = s.sync.snapshot
      ? `${s.sync.snapshot}${s.sync.files !== undefined ? ` (${s.sync.files} files)` : ''}`
      : 'none yet';
    $('#sync-last').textContent = fmtAgo(s.sync.lastSyncAt);
    const n = s.sync.syncs ?? 0;
    $('#sync-count').textContent =
      `${n} snapshot${n === 1 ? '' : 's'} since start${s.sync.failures ? `, ${s.sync.failures} failed syncs` : ''}`;
    $('#sync-headline').textContent = s.sync.headline ?? '—';
  }
  if (s.ambassador) {
    const ups = s.ambassador.upstreams;
    $('#amb-upstreams').innerHTML = '';
    if (!ups.length) $('#amb-upstreams').textContent = '—';
    for (const u of ups) {
      const line = document.createElement('div');
      line.className = u.up ? 'up' : 'down';
      // The URL is one token: it may go to a line of its own, never break inside.
      const url = document.createElement('span');
      url.className = 'url';
      url.textContent = u.name;
      line.append(`${u.up ? '●' : '○'} `, url, ` ${u.up ? 'up' : 'down'}`);
      $('#amb-upstreams').append(line);
    }
    $('#amb-requests').textContent =
      s.ambassador.requests === undefined
        ? '0'
        : `${s.ambassador.requests} (${fmtCodes(s.ambassador.byCode)})`;
  }
  if (s.adapter) {
    const a = s.adapter;
    $('#adapter-requests').textContent = String(a.requests ?? 0);
    $('#adapter-codes').textContent = fmtCodes(a.byCode);
    $('#adapter-latency').textContent =
      a.latency.p50 === undefined
        ? '—'
        : `p50 ${fmtSeconds(a.latency.p50)} · p95 ${fmtSeconds(a.latency.p95)} · avg ${fmtSeconds(a.latency.avg)}`;
    const now = Date.now();
    history.push({ at: now, requests: a.requests ?? 0 });
    while (history.length > 2 && now - history[0].at > 5000) history.shift();
    const first = history[0];
    if (now > first.at) {
      const rate = (((a.requests ?? 0) - first.requests) * 1000) / (now - first.at);
      $('#adapter-rate').textContent =
        `${rate.toFixed(1)} req/s (last ${Math.round((now - first.at) / 1000)} s)`;
    }
  }
  drawArrows(s);
}

function noteChanges(before, now) {
  if (!before) {
    note(`connected: ${now.containers.length} containers`);
    return;
  }
  for (const c of now.containers) {
    const old = before.containers.find((o) => o.name === c.name);
    if (old && old.ready !== c.ready)
      note(`${c.name} is ${c.ready ? 'ready' : `not ready (${c.readyDetail})`}`);
    if (old && c.restarts > old.restarts) note(`${c.name} restarted (restart #${c.restarts})`);
  }
  if (before.sync && now.sync && before.sync.snapshot !== now.sync.snapshot && now.sync.snapshot)
    note(`content-sync published snapshot ${now.sync.snapshot}`);
  for (const u of now.ambassador?.upstreams ?? []) {
    const old = before.ambassador?.upstreams.find((o) => o.name === u.name);
    if (old && old.up !== u.up) note(`ambassador: upstream ${u.name} is ${u.up ? 'up' : 'down'}`);
  }
  const d = (now.adapter?.requests ?? 0) - (before.adapter?.requests ?? 0);
  // A few per second are the runner's own /readyz checks of web; note only real bursts.
  if (d >= 5) note(`log-adapter counted ${d} more requests`);
}

function drawArrows(s) {
  const svg = $('#arrows');
  for (const old of svg.querySelectorAll('path.flow, text')) old.remove();
  const box = svg.getBoundingClientRect();
  for (const [from, to, label, owner] of flows(s)) {
    const a = $(from);
    const b = $(to);
    if (!a || !b || a.closest('[hidden]') || b.closest('[hidden]')) continue;
    const ra = a.getBoundingClientRect();
    const rb = b.getBoundingClientRect();
    const ca = centre(ra);
    const cb = centre(rb);
    const p1 = edge(ra, cb);
    const p2 = edge(rb, ca);
    const ns = 'http://www.w3.org/2000/svg';
    const path = document.createElementNS(ns, 'path');
    const owned = s.containers.find((c) => c.name === owner);
    path.setAttribute('class', `flow${owned && !owned.ready ? ' dead' : ''}`);
    path.setAttribute('d', `M${p1.x - box.left},${p1.y - box.top} L${p2.x - box.left},${p2.y - box.top}`);
    path.setAttribute('marker-end', 'url(#head)');
    svg.append(path);
    const text = document.createElementNS(ns, 'text');
    text.setAttribute('x', String((p1.x + p2.x) / 2 - box.left));
    text.setAttribute('y', String((p1.y + p2.y) / 2 - box.top - 6));
    text.setAttribute('text-anchor', 'middle');
    text.textContent = label;
    svg.append(text);
  }
}
const centre = (r) => ({ x: r.left + r.width / 2, y: r.top + r.height / 2 });
/** Where the line from the centre of r towards p leaves r. */
function edge(r, p) {
  const c = centre(r);
  const dx = p.x - c.x;
  const dy = p.y - c.y;
  const t = Math.min(dx ? r.width / 2 / Math.abs(dx) : Infinity, dy ? r.height / 2 / Math.abs(dy) : Infinity);
  return { x: c.x + dx * t, y: c.y + dy * t };
}

function openLogs(name) {
  logsOf = name;
  $('#logs').hidden = false;
  $('#logs-cmd').textContent = `kubectl logs ${POD_NAMES[state?.pattern] ?? 'full'} -c ${name}`;
  $('#logs-lines').textContent = '';
  refreshLogs();
  if (state) draw();
}

async function refreshLogs() {
  if (!logsOf) return;
  const name = logsOf;
  try {
    const res = await fetch(`/api/logs/${name}?tail=100`, { cache: 'no-store' });
    const body = await res.json();
    if (name !== logsOf) return;
    const pre = $('#logs-lines');
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = body.lines.join('\n') || '(no output yet)';
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  } catch {
    // the runner is gone; the connection banner says so
  }
}

/** One poll at a time: a button's poll while the timer's is in flight runs right after it. */
let polling = false;
let pollAgain = false;
async function poll() {
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  try {
    const res = await fetch('/api/state', { cache: 'no-store' });
    const next = await res.json();
    previous = state;
    state = next;
    $('#connection').hidden = true;
    noteChanges(previous, state);
    draw();
    refreshLogs();
    document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
  } catch {
    $('#connection').hidden = false;
  } finally {
    polling = false;
    if (pollAgain) {
      pollAgain = false;
      poll();
    }
  }
}

$('#btn-edit').addEventListener('click', () =>
  act(
    'publishing an edit',
    '/api/edit',
    (r) => `wrote ${r.file}; once content-sync publishes it, open ${new URL(r.path, state.siteUrl).href}`,
  ),
);
$('#btn-traffic').addEventListener('click', () =>
  act(
    'sending 50 requests',
    '/api/traffic?count=50',
    (r) => `sent ${r.sent} in ${r.ms} ms: ${fmtCodes(r.byStatus)}`,
  ),
);
$('#btn-stop-web').addEventListener('click', () =>
  act(
    'stopping web',
    '/api/containers/web/stop',
    () => 'web stopped: now send traffic and watch the ambassador',
  ),
);
$('#btn-start-web').addEventListener('click', () =>
  act('starting web', '/api/containers/web/start', () => 'web starting'),
);
$('#logs-close').addEventListener('click', () => {
  logsOf = undefined;
  $('#logs').hidden = true;
  if (state) draw();
});
window.addEventListener('resize', () => state && draw());
poll();
setInterval(poll, POLL_MS);
