// k6 load test of docsearch's gRPC Search API: the query mix of
// loadtest/harness (the classes of ../shared/baselines.md), patient searches
// of three selectivities, paging, and a 95/5 patient/population mix, with
// the latency targets (PROFILE=target, the default) or the loose
// limits `make run` meets on a 2-core machine (PROFILE=smoke).
//
//   .bin/k6 run loadtest/k6/search.js                       # every class, then the mix
//   .bin/k6 run -e PROFILE=smoke loadtest/k6/search.js      # make k6-smoke
//   .bin/k6 run -e SCENARIOS=mix -e DOCUMENTS=10000000 -e DURATION=2m -e VUS=16 loadtest/k6/search.js
//
// Environment (each also read from the process environment):
//   DOCSEARCH_ADDR  gRPC address, with server reflection (127.0.0.1:7070)
//   DOCUMENTS       documents the data set was generated with (20000); sets PATIENTS
//   PATIENTS        patients, drawn 1..PATIENTS skewed as gen does (max(100, DOCUMENTS/200))
//   CLINICS         organization_id range 1..CLINICS (200)
//   AUTHORS         author_id range 1..AUTHORS (5000)
//   DATA_END        end of the generated history, YYYY-MM-DD (2026-01-01); "last month" is before it
//   DURATION        per class scenario, and for the mix (target 30s, smoke 5s)
//   VUS             virtual users per scenario (target 8, smoke 2)
//   SCENARIOS       "classes", "mix" or "all" (all)
//   PROFILE         "target" or "smoke" (target)
//   AUTH_TOKEN      sent as "authorization: Bearer ..." when set
//   API_KEY         sent as "x-api-key" when set (not with AUTH_TOKEN)
//   TLS             "on": TLS instead of plaintext (off)
//   TLS_CA          with TLS: CA (PEM file) of the server's certificate (the system's roots)
//   TLS_CERT, TLS_KEY  with TLS: client certificate and key (PEM files) where mTLS is required
//
// See docs/k6.md for what each profile's thresholds mean and what was measured.

import grpc from 'k6/net/grpc';
import { check, fail } from 'k6';
import { Rate } from 'k6/metrics';

const env = (name, def) => (__ENV[name] !== undefined && __ENV[name] !== '' ? __ENV[name] : def);
const int = (name, def) => {
  const v = parseInt(env(name, String(def)), 10);
  if (!(v > 0)) fail(`${name} must be a positive integer, not ${__ENV[name]}`);
  return v;
};

const PROFILE = env('PROFILE', 'target');
if (PROFILE !== 'target' && PROFILE !== 'smoke') fail(`PROFILE must be target or smoke, not ${PROFILE}`);
const SMOKE = PROFILE === 'smoke';
const ADDR = env('DOCSEARCH_ADDR', '127.0.0.1:7070');
const DOCUMENTS = int('DOCUMENTS', 20000);
const PATIENTS = int('PATIENTS', Math.max(100, Math.floor(DOCUMENTS / 200)));
const CLINICS = int('CLINICS', 200);
const AUTHORS = int('AUTHORS', 5000);
const DATA_END = new Date(env('DATA_END', '2026-01-01') + 'T00:00:00Z');
if (isNaN(DATA_END)) fail(`DATA_END must be YYYY-MM-DD, not ${__ENV.DATA_END}`);
const DURATION = env('DURATION', SMOKE ? '5s' : '30s');
const VUS = int('VUS', SMOKE ? 2 : 8);
const SCENARIOS = env('SCENARIOS', 'all');
const TOKEN = env('AUTH_TOKEN', '');
const API_KEY = env('API_KEY', '');
if (TOKEN && API_KEY) throw new Error('give AUTH_TOKEN or API_KEY, not both: the server refuses two credentials');
const METADATA = TOKEN ? { authorization: `Bearer ${TOKEN}` } : API_KEY ? { 'x-api-key': API_KEY } : null;
// Files are read at init, the only time open() may run.
const TLS = tlsParams();

function tlsParams() {
  const mode = env('TLS', 'off');
  if (mode === 'off') return null;
  if (mode !== 'on') throw new Error(`TLS=${mode}: want on or off`);
  const p = {};
  const ca = env('TLS_CA', '');
  if (ca) p.cacerts = [open(ca)];
  const cert = env('TLS_CERT', '');
  const key = env('TLS_KEY', '');
  if (!cert !== !key) throw new Error('TLS_CERT and TLS_KEY go together');
  if (cert) {
    p.cert = open(cert);
    p.key = open(key);
  }
  return p;
}

const METHOD = 'docsearch.v1.SearchService/Search';
const errors = new Rate('errors');

// skewed draws 1..n as the generator does (n*u^2): busy ids come often.
const skewed = (n) => 1 + Math.floor(n * Math.random() ** 2);
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const day = (d) => d.toISOString().slice(0, 10);
const daysBefore = (n) => day(new Date(DATA_END.getTime() - n * 86400e3));

// The classes. kind sets the latency target: patient searches, population
// searches an index serves (clinic, author), and ad-hoc attribute searches.
const classes = {
  // Q1: a patient's newest 100, no filter (the least selective).
  patient_newest: { kind: 'patient', req: () => ({ patient_id: skewed(PATIENTS), page_size: 100 }) },
  // Q2: a patient's exams with one of four diagnoses, not cancelled (selective).
  patient_selective: {
    kind: 'patient',
    req: () => ({
      patient_id: skewed(PATIENTS),
      page_size: 100,
      filter: "doc_type = 'therapist_exam' AND icd10 IN ('I10', 'E11.9', 'J06.9', 'I25.1') AND NOT status = 'cancelled'",
    }),
  },
  // A patient's lab results of the last year (medium).
  patient_recent_labs: {
    kind: 'patient',
    req: () => ({ patient_id: skewed(PATIENTS), page_size: 100, filter: `doc_type = 'lab_result' AND created_at >= '${daysBefore(365)}'` }),
  },
  // Paging: a patient's record 20 at a time, up to five pages (run by page()).
  patient_paging: { kind: 'patient', pages: 5, req: () => ({ patient_id: skewed(PATIENTS), page_size: 20 }) },
  // Q3: a clinic's sick leaves of the last month.
  population_clinic: {
    kind: 'population_indexed',
    req: () => ({ page_size: 100, filter: `organization_id = ${skewed(CLINICS)} AND doc_type = 'sick_leave' AND created_at >= '${daysBefore(30)}'` }),
  },
  // Q5: an author's newest 100.
  population_author: { kind: 'population_indexed', req: () => ({ page_size: 100, filter: `author_id = ${skewed(AUTHORS)}` }) },
  // Q4: ad-hoc attributes over the whole population.
  population_adhoc: {
    kind: 'adhoc',
    req: () => ({ page_size: 100, filter: `icd10 = '${pick(['I10', 'E11.9', 'I25.1', 'E78.5'])}' AND smoker = true AND bp_systolic > 180` }),
  },
};
const patientClasses = Object.keys(classes).filter((c) => classes[c].kind === 'patient');
// The 5% population share: mostly indexed shapes, some ad hoc.
const populationClasses = ['population_clinic', 'population_clinic', 'population_author', 'population_author', 'population_adhoc'];

// Thresholds: the targets, or for the smoke profile 4 to 7 times
// what `make run` met with 20 000 documents on 2 shared cores at load 5-9
// (patient p99 105-160 ms, indexed population 25-50 ms, ad hoc 65-240 ms).
const limits = SMOKE
  ? { patient: 'p(99)<=500', population_indexed: 'p(99)<=300', adhoc: 'p(99)<=1000' }
  : { patient: 'p(99)<=20', population_indexed: 'p(99)<=50', adhoc: 'p(99)<=250' };

function seconds(d) {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  if (!m || d === '') fail(`DURATION must look like 30s, 2m or 1m30s, not ${d}`);
  return 3600 * (+m[1] || 0) + 60 * (+m[2] || 0) + (+m[3] || 0);
}

function buildScenarios() {
  const out = {};
  const gap = 2; // seconds between scenarios, for the graceful stop
  let start = 0;
  const add = (name, exec) => {
    out[name] = { executor: 'constant-vus', vus: VUS, duration: DURATION, startTime: `${start}s`, gracefulStop: `${gap}s`, exec, env: { CLASS: name } };
    start += seconds(DURATION) + gap;
  };
  if (SCENARIOS === 'all' || SCENARIOS === 'classes') Object.keys(classes).forEach((c) => add(c, 'one'));
  if (SCENARIOS === 'all' || SCENARIOS === 'mix') add('mix', 'mix');
  if (Object.keys(out).length === 0) fail(`SCENARIOS must be classes, mix or all, not ${SCENARIOS}`);
  return out;
}

function buildThresholds() {
  const t = { errors: ['rate==0'], checks: ['rate==1'] };
  for (const kind of Object.keys(limits)) t[`grpc_req_duration{kind:${kind}}`] = [limits[kind]];
  // Per class and for the mix: the limit of the class's kind, so the summary
  // shows every class on its own line.
  for (const c of Object.keys(classes)) t[`grpc_req_duration{class:${c}}`] = [limits[classes[c].kind]];
  if (SCENARIOS !== 'classes') for (const kind of Object.keys(limits)) t[`grpc_req_duration{scenario:mix,kind:${kind}}`] = [limits[kind]];
  return t;
}

export const options = {
  scenarios: buildScenarios(),
  thresholds: buildThresholds(),
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max', 'count'],
};

const client = new grpc.Client();
let connected = false;

function connect() {
  if (!connected) {
    const params = { plaintext: !TLS, reflect: true, timeout: '10s' };
    if (TLS) params.tls = TLS;
    client.connect(ADDR, params);
    connected = true;
  }
}

function invoke(name, req) {
  const params = { tags: { class: name, kind: classes[name].kind }, timeout: '30s' };
  if (METADATA) params.metadata = METADATA;
  const res = client.invoke(METHOD, req, params);
  const ok = check(res, {
    'status is OK': (r) => r && r.status === grpc.StatusOK,
    'documents at most page_size': (r) => r && r.message && (r.message.documents || []).length <= req.page_size,
  });
  errors.add(!ok, { class: name });
  return ok ? res.message : null;
}

// run does one search of class name; a paging class follows its tokens.
function run(name) {
  const c = classes[name];
  const req = c.req();
  let seen = new Set();
  for (let page = 0; page < (c.pages || 1); page++) {
    const msg = invoke(name, req);
    if (!msg) return;
    const docs = msg.documents || [];
    if (c.pages) {
      const repeated = docs.filter((d) => seen.has(d.id)).length;
      check(repeated, { 'pages do not repeat documents': (n) => n === 0 });
      docs.forEach((d) => seen.add(d.id));
    }
    const token = msg.nextPageToken || msg.next_page_token || '';
    if (!token) return;
    req.page_token = token;
  }
}

// setup fails fast when the service is unreachable or holds no documents.
export function setup() {
  connect();
  const res = client.invoke(METHOD, { patient_id: 1, page_size: 1 }, METADATA ? { metadata: METADATA } : {});
  if (!res || res.status !== grpc.StatusOK) fail(`docsearch at ${ADDR}: ${res && res.error ? JSON.stringify(res.error) : 'no answer'}`);
  if ((res.message.documents || []).length === 0) fail(`docsearch at ${ADDR} has no documents for patient 1: load data first (docsearch gen)`);
  client.close();
  connected = false;
}

// one runs the scenario's own class.
export function one() {
  connect();
  run(__ENV.CLASS);
}

// mix is 95% patient searches and 5% population searches.
export function mix() {
  connect();
  run(Math.random() < 0.95 ? pick(patientClasses) : pick(populationClasses));
}
