// The dashboard's browser side: renders each page from /dashboard/api/ and re-renders on every live event (SSE).
/* global document, EventSource, FormData, Node, uPlot, window */
'use strict';

const app = document.getElementById('app');
const page = app.dataset.page;
const id = app.dataset.id;

const api = async (path, init) => {
  const response = await fetch(`/dashboard/api/${path}`, init);
  const body = response.headers.get('content-type')?.includes('json') ? await response.json() : {};
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
};
// State changes: JSON POST, as the server's CSRF rules demand.
const post = (path, body = {}) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Builds an element; children are strings (set as text, never HTML) or elements. */
function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c instanceof Node ? c : String(c ?? '—'));
  return el;
}
const fill = (tbody, rows) => tbody.replaceChildren(...rows);
const pct = (x) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(2)} %`);
const duration = (s) => (s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`);

const renderers = {
  async overview() {
    const o = await api('overview');
    const card = (label, value) => h('div', { class: 'card' }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value));
    document.getElementById('overview').replaceChildren(
      card('Uptime', duration(o.uptime)),
      card('Sandboxes', o.capacity === null ? o.sandboxes : `${o.sandboxes} / ${o.capacity}`),
      card('Available', o.available),
      card('Warm pool', o.pool_size === 0 ? 'off' : `${o.pool} / ${o.pool_size} ready`),
      card('Requests / min', o.requests_per_minute),
      card('Refusals / min', o.refusals_per_minute),
      card('Version', o.version),
    );
  },
  async sandboxes() {
    const { sandboxes } = await api('sandboxes');
    const empty = h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No sandboxes'));
    fill(document.querySelector('#sandboxes tbody'), sandboxes.length === 0 ? [empty] : sandboxes.map((s) =>
      h('tr', { 'data-session': s.id },
        h('td', {}, `#${s.id}`), h('td', {}, duration(s.age_seconds)), h('td', {}, s.expires_in_seconds === null ? '—' : duration(s.expires_in_seconds)),
        h('td', {}, h('code', {}, s.client_id)), h('td', {}, s.port), h('td', {}, s.state), h('td', {}, h('code', {}, s.container_id)),
        h('td', {}, h('button', { type: 'button', class: 'danger', onclick: () => void destroy(s.id) }, 'Destroy')))));
  },
  async trainings() {
    const { trainings } = await api('trainings');
    const empty = h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No trainings'));
    fill(document.querySelector('#trainings tbody'), trainings.length === 0 ? [empty] : trainings.map((t) =>
      h('tr', { 'data-training': t.training_uuid },
        h('td', {}, h('a', { href: `/dashboard/trainings/${t.training_uuid}` }, h('code', {}, t.training_uuid))),
        h('td', {}, h('span', { class: `status ${t.status}` }, t.status)), h('td', {}, pct(t.final_accuracy)),
        h('td', {}, new Date(t.created_at).toLocaleString()), h('td', {}, t.message))));
  },
  async training() {
    const [t, updates] = await Promise.all([api(`trainings/${id}`), api(`trainings/${id}/clients`)]);
    const latest = new Map(updates.clients.map((u) => [u.client_id, u]));
    document.getElementById('training-status').replaceChildren(h('span', { class: `status ${t.status}` }, t.status), ` ${t.message} · accuracy ${pct(t.final_accuracy)} (initial ${pct(t.initial_accuracy)})`);
    document.getElementById('cancel-training').disabled = !['provisioning', 'running', 'pending', 'preparing'].includes(t.status);
    fill(document.querySelector('#rounds tbody'), t.rounds.map((r) => h('tr', {}, h('td', {}, r.round), h('td', {}, pct(r.accuracy)), h('td', {}, r.loss.toFixed(4)), h('td', {}, r.clients))));
    const metrics = t.last_client_metrics?.metrics ?? {};
    fill(document.querySelector('#clients tbody'), t.clients.map((c) => {
      const m = metrics[c.client_id];
      const text = m ? Object.entries(m).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`).join(', ') : '—';
      const u = latest.get(c.client_id);
      const update = u ? h('a', { href: u.download, download: '', class: 'client-update' }, `round ${u.round} (safetensors)`) : '—';
      return h('tr', { class: c.status === 'dropped' ? 'dropped' : '', 'data-client': c.client_id },
        h('td', {}, h('code', {}, c.client_id)), h('td', {}, c.status), h('td', {}, c.drop_reason ?? ''), h('td', {}, text), h('td', {}, update));
    }));
    drawChart(t.rounds);
  },
};

let chart;
function drawChart(rounds) {
  const el = document.getElementById('chart');
  const data = [rounds.map((r) => r.round), rounds.map((r) => r.accuracy), rounds.map((r) => r.loss)];
  el.dataset.points = String(rounds.length);
  if (chart) return chart.setData(data);
  chart = new uPlot({
    width: Math.max(300, el.clientWidth - 20), height: 300, title: 'Held-out accuracy and loss per round',
    scales: { x: { time: false }, acc: { range: [0, 1] } },
    axes: [{ label: 'round', incrs: [1] }, { scale: 'acc', label: 'accuracy', values: (_u, v) => v.map((x) => `${Math.round(x * 100)} %`) }, { scale: 'loss', side: 1, label: 'loss', grid: { show: false } }],
    series: [{ label: 'round' }, { label: 'accuracy', scale: 'acc', stroke: '#2563eb', width: 2, points: { size: 7 }, value: (_u, v) => pct(v) }, { label: 'loss', scale: 'loss', stroke: '#dc2626', width: 2, points: { size: 7 }, value: (_u, v) => (v === null ? '—' : v.toFixed(4)) }],
  }, data, el);
}

async function destroy(session) {
  if (!window.confirm(`Destroy sandbox #${session}? Its user loses it at once.`)) return;
  await post(`sandboxes/${session}/destroy`).catch((e) => window.alert(e.message));
  await refresh();
}

/** Form values as the admin method fl.train takes them: numbers as numbers, empty fields left out. */
function trainingRequest(form) {
  const request = {};
  for (const [k, v] of new FormData(form)) if (v !== '') request[k] = v.trim() !== '' && Number.isFinite(Number(v)) && k !== 'dataset' ? Number(v) : v;
  return request;
}

function wireActions() {
  document.getElementById('train-form')?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const out = document.getElementById('train-result');
    try {
      const { training_uuid: uuid } = await post('trainings/start', trainingRequest(event.target));
      out.replaceChildren('Started ', h('a', { href: `/dashboard/trainings/${uuid}`, id: 'started-training' }, uuid));
    } catch (e) {
      out.replaceChildren(h('span', { class: 'error' }, e.message));
    }
    await refresh();
  });
  document.getElementById('cancel-training')?.addEventListener('click', async () => {
    await post(`trainings/${id}/cancel`).catch((e) => window.alert(e.message));
    await refresh();
  });
}

let refreshing = Promise.resolve();
/** One render at a time; an event during a render queues one more. */
function refresh() {
  refreshing = refreshing.then(() => renderers[page]()).catch((e) => {
    document.getElementById('live').className = 'error';
    document.getElementById('live').title = e.message;
  });
  return refreshing;
}

function live() {
  const source = new EventSource('/dashboard/api/events');
  const dot = document.getElementById('live');
  source.onopen = () => { dot.className = 'on'; };
  source.onerror = () => { dot.className = 'off'; };
  for (const name of ['created_container', 'destroyed_container', 'fl_training_started', 'fl_round_completed', 'fl_client_dropped', 'fl_training_finished']) source.addEventListener(name, () => void refresh());
  // Uptime and ages move without events.
  window.setInterval(() => void refresh(), 10_000);
}

wireActions();
void refresh();
live();
