// The dashboard's HTML: one server-rendered shell per page (navigation, headings, forms); resources/dashboard/dashboard.js fills it from /dashboard/api/.
export type DashboardPage = 'overview' | 'sandboxes' | 'trainings' | 'training';

const NAV: Array<[DashboardPage, string, string]> = [
  ['overview', '/dashboard/', 'Overview'],
  ['sandboxes', '/dashboard/sandboxes', 'Sandboxes'],
  ['trainings', '/dashboard/trainings', 'FL trainings'],
];

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `fl train` options of the start form: [field, label, input type, default]. */
const TRAINING_FIELDS: Array<[string, string, string, string]> = [
  ['dataset', 'Dataset (CSV path on the server)', 'text', ''],
  ['clients', 'Clients', 'number', '2'],
  ['rounds', 'Rounds', 'number', '3'],
  ['model', 'Model (logreg or mlp)', 'text', 'logreg'],
  ['split', 'Split (iid or dirichlet:α)', 'text', 'iid'],
  ['localEpochs', 'Local epochs', 'number', '5'],
  ['learningRate', 'Learning rate', 'text', '0.1'],
  ['minClients', 'Min clients', 'number', ''],
  ['roundTimeoutSeconds', 'Round timeout (s)', 'number', '60'],
  ['mu', 'FedProx μ', 'text', '0'],
  ['strategy', 'Strategy (fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad)', 'text', ''],
  ['seed', 'Seed', 'number', '0'],
];

const BODIES: Record<DashboardPage, (id: string) => string> = {
  overview: () => `<h1>Overview</h1><section class="cards" id="overview"></section>`,
  sandboxes: () => `<h1>Sandboxes</h1>
<table id="sandboxes"><thead><tr><th>Session</th><th>Age</th><th>Expiry</th><th>Client</th><th>Port</th><th>State</th><th>Container</th><th></th></tr></thead><tbody></tbody></table>`,
  trainings: () => `<h1>FL trainings</h1>
<table id="trainings"><thead><tr><th>Training</th><th>Status</th><th>Accuracy</th><th>Started</th><th>Message</th></tr></thead><tbody></tbody></table>
<h2>Start a training</h2>
<form id="train-form">${TRAINING_FIELDS.map(([name, label, type, value]) => `<label>${escapeHtml(label)}<input name="${name}" type="${type}" value="${escapeHtml(value)}"${type === 'number' ? ' min="0"' : ''}></label>`).join('')}
<button type="submit">Start training</button><output id="train-result"></output></form>`,
  training: (id) => `<h1>Training <code>${escapeHtml(id)}</code></h1>
<p id="training-status"></p>
<p class="actions"><a id="model-download" href="/dashboard/api/trainings/${escapeHtml(id)}/model" download>Download the global model (safetensors)</a>
<button id="cancel-training" type="button">Cancel</button></p>
<div id="chart" data-points="0"></div>
<h2>Rounds</h2><table id="rounds"><thead><tr><th>Round</th><th>Accuracy</th><th>Loss</th><th>Clients</th></tr></thead><tbody></tbody></table>
<h2>Clients</h2><table id="clients"><thead><tr><th>Client</th><th>Status</th><th>Dropped because</th><th>Last round metrics</th><th>Latest update</th></tr></thead><tbody></tbody></table>`,
};

export function renderPage(page: DashboardPage, id = ''): string {
  const nav = NAV.map(([name, href, label]) => `<a href="${href}"${name === page || (page === 'training' && name === 'trainings') ? ' aria-current="page"' : ''}>${label}</a>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Anweddol dashboard</title>
<link rel="stylesheet" href="/dashboard/assets/uPlot.min.css"><link rel="stylesheet" href="/dashboard/assets/dashboard.css">
<script src="/dashboard/assets/uPlot.iife.min.js" defer></script><script src="/dashboard/assets/dashboard.js" defer></script>
</head><body><header><span class="brand">anweddol-server</span><nav>${nav}</nav><span id="live" title="live updates">●</span></header>
<main id="app" data-page="${page}" data-id="${escapeHtml(id)}">${BODIES[page](id)}</main></body></html>`;
}

/** What an unauthenticated visitor sees: the only way in. */
export function loginPage(reason: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Anweddol dashboard</title><link rel="stylesheet" href="/dashboard/assets/dashboard.css"></head>
<body><main><h1>Log in</h1><p>${escapeHtml(reason)}</p><p>Run <code>anweddol-server dashboard-url</code> on the server and open the URL it prints.</p></main></body></html>`;
}
