// Starts what the browser tests run against, on free loopback ports in a fresh temp folder:
//   - a static server for the test page and dist/ (tessera-broker.js, redirect.html)
//   - the real entra-emulator (target/debug/entra-emulator serve --config emulator.json)
//   - the real STS (target/debug/sts --config sts.toml serve), its registry a fresh SQLite file
//     built from this suite's operator migration, its client certificate made by `sts cert new`.
// Binaries come from $E2E_BIN_DIR (default target/debug); dist/ from $E2E_DIST; E2E_KEEP=1 keeps
// the temp folder (configs, logs). Not TESSERA_*: the STS reads every TESSERA_* variable as config.
"use strict";

const { spawn, execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const ids = require("./ids");

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.E2E_BIN_DIR || path.join(ROOT, "target", "debug");
const DIST = process.env.E2E_DIST || path.join(ROOT, "dist");
const FIXTURES = path.join(__dirname, "..", "fixtures");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Serves the page, its controls and the built broker. */
function startPageServer(port) {
  const files = {
    "/": [path.join(FIXTURES, "page.html"), "text/html"],
    "/controls.js": [path.join(FIXTURES, "controls.js"), "text/javascript"],
    "/csp.html": [path.join(FIXTURES, "csp.html"), "text/html"],
    "/host.html": [path.join(FIXTURES, "host.html"), "text/html"],
    "/csp-init.js": [path.join(FIXTURES, "csp-init.js"), "text/javascript"],
    "/tessera-broker.js": [path.join(DIST, "tessera-broker.js"), "text/javascript"],
    "/redirect.html": [path.join(DIST, "redirect.html"), "text/html"],
  };
  for (const [file] of Object.values(files)) {
    if (!fs.existsSync(file)) throw new Error(`missing ${file}: run scripts/build-broker.sh first`);
  }
  const server = http.createServer((req, res) => {
    const entry = files[new URL(req.url, "http://x").pathname];
    if (!entry) {
      res.writeHead(404).end();
      return;
    }
    const headers = { "content-type": entry[1], "cache-control": "no-store" };
    // tests/csp.test.js: a `csp` cookie (URI-encoded) is sent back as the page's policy, on every
    // page of this origin (the test page and the sign-in popup's redirect page alike).
    const csp = /(?:^|;\s*)csp=([^;]*)/.exec(req.headers.cookie || "");
    if (csp) headers["content-security-policy"] = decodeURIComponent(csp[1]);
    res.writeHead(200, headers);
    fs.createReadStream(entry[0]).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

function emulatorConfig({ httpPort, pageOrigin, certPem, signInPage }) {
  const base = `http://127.0.0.1:${httpPort}`;
  const client = (id, name, requiredScopes) => ({
    client_id: id,
    display_name: name,
    identifier_uris: [`api://${id}`],
    scopes: ["access_as_user"],
    known_client_apps: [ids.BROKER],
    required_scopes: requiredScopes,
    access_token_version: 2,
    certificates: [{ pem: certPem }],
  });
  return {
    server: {
      bind: "127.0.0.1",
      http_port: httpPort,
      https_port: 0,
      admin_api: true,
      // Issuers on the plain listener, the authority the STS and the broker use.
      issuer_base: base,
      v1_issuer_base: `${base}/sts.windows.net`,
      access_token_lifetime_secs: 3600,
      spa_refresh_token_lifetime_secs: 86400,
      // Off: authorize signs the login_hint's user in without a page (most tests are not about
      // the page). On (startStack({ signInPage: true })): the account picker and consent prompt.
      sign_in_page: !!signInPage,
    },
    tenants: [
      {
        id: ids.TENANT,
        domains: ["e2e.onmicrosoft.com"],
        display_name: "Tessera E2E",
        users: [
          { oid: ids.USER_OID, upn: ids.USER_UPN, name: "Adele Vance" },
          { oid: ids.OTHER_USER_OID, upn: ids.OTHER_USER_UPN, name: "Megan Bowen" },
        ],
        apps: [
          {
            client_id: ids.BROKER,
            display_name: "Tessera broker (E2E)",
            spa_redirect_uris: [`${pageOrigin}/redirect.html`],
            access_token_version: 2,
          },
          client(ids.FILE_PICKER, "file picker", [
            "https://graph.microsoft.com/Files.Read",
            "https://graph.microsoft.com/User.Read",
          ]),
          client(ids.EXPENSES, "expense report", [`api://${ids.EXPENSES_API}/expenses.read`]),
          client(ids.UNCONSENTED, "not consented in the registry", ["https://graph.microsoft.com/User.Read"]),
          {
            client_id: ids.EXPENSES_API,
            display_name: "Expenses API",
            identifier_uris: [`api://${ids.EXPENSES_API}`],
            scopes: ["expenses.read"],
            access_token_version: 2,
          },
          {
            client_id: ids.GRAPH,
            display_name: "Microsoft Graph",
            identifier_uris: ["https://graph.microsoft.com"],
            scopes: ["User.Read", "Files.Read"],
            access_token_version: 1,
          },
        ],
        // Entra-side consent for every client app (so user tokens and OBO work there); the
        // registry below is what withholds the "unconsented" workload.
        consents: [
          { client_id: ids.FILE_PICKER, resource: ids.GRAPH, scopes: ["Files.Read", "User.Read"] },
          { client_id: ids.EXPENSES, resource: ids.EXPENSES_API, scopes: ["expenses.read"] },
          { client_id: ids.UNCONSENTED, resource: ids.GRAPH, scopes: ["User.Read"] },
        ],
      },
    ],
  };
}

function registryMigration(thumbprint) {
  const q = (s) => `'${s}'`;
  const clients = [
    [ids.FILE_PICKER, "file-picker"],
    [ids.EXPENSES, "expense-report"],
    [ids.UNCONSENTED, "unconsented"],
  ];
  return [
    "-- Tessera E2E registry (generated by e2e/lib/stack.js).",
    "INSERT INTO app_registrations (app_id, role, display_name, resource_uri) VALUES",
    `  (${q(ids.BROKER)}, 'broker', 'E2E broker', NULL),`,
    ...clients.map(([id, name]) => `  (${q(id)}, 'client', ${q(name)}, NULL),`),
    `  (${q(ids.GRAPH)}, 'backend', 'Microsoft Graph', 'https://graph.microsoft.com'),`,
    `  (${q(ids.EXPENSES_API)}, 'backend', 'Expenses API', ${q(`api://${ids.EXPENSES_API}`)});`,
    "INSERT INTO app_id_uris (app_id, uri) VALUES",
    clients.map(([id]) => `  (${q(id)}, ${q(`api://${id}`)})`).join(",\n") + ";",
    "INSERT INTO workloads (name, client_app_id, enabled, required_scope) VALUES",
    clients.map(([id, name]) => `  (${q(name)}, ${q(id)}, TRUE, 'access_as_user')`).join(",\n") + ";",
    "INSERT INTO workload_brokers (workload, broker_app_id) VALUES",
    clients.map(([, name]) => `  (${q(name)}, ${q(ids.BROKER)})`).join(",\n") + ";",
    "INSERT INTO workload_backend_scopes (workload, backend_app_id, scope) VALUES",
    `  ('file-picker', ${q(ids.GRAPH)}, 'Files.Read'),`,
    `  ('file-picker', ${q(ids.GRAPH)}, 'User.Read'),`,
    `  ('expense-report', ${q(ids.EXPENSES_API)}, 'expenses.read'),`,
    `  ('unconsented', ${q(ids.GRAPH)}, 'User.Read');`,
    "INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference) VALUES",
    `  (${q(ids.TENANT)}, 'file-picker', 'granted', '2026-01-01T00:00:00Z', 'e2e'),`,
    `  (${q(ids.TENANT)}, 'expense-report', 'granted', '2026-01-01T00:00:00Z', 'e2e');`,
    "INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at) VALUES",
    clients.map(([id]) => `  (${q(id)}, ${q(thumbprint)}, 'e2e', '2026-01-01T00:00:00Z')`).join(",\n") + ";",
    "",
  ].join("\n");
}

function stsConfig({ stsPort, emulatorBase, pageOrigin, dir, cert, key }) {
  const credentials = [ids.FILE_PICKER, ids.EXPENSES, ids.UNCONSENTED]
    .map((id) => `[[credentials]]\nclient_app_id = "${id}"\ncert_pem = ${JSON.stringify(cert)}\nkey_pem = ${JSON.stringify(key)}\n`)
    .join("\n");
  return `[server]
listen = "127.0.0.1:${stsPort}"
# /metrics on any free port: a second stack (or an sts serve of the machine) may hold 9464.
metrics_listen = "127.0.0.1:0"
cors_origins = ["${pageOrigin}"]

[registry]
sqlite_path = ${JSON.stringify(path.join(dir, "registry.db"))}
operator_migrations_dir = ${JSON.stringify(path.join(dir, "registry"))}
migrate_on_start = true

[audit]
spool_dir = ${JSON.stringify(path.join(dir, "audit-spool"))}

[entra]
authority = "${emulatorBase}"
broker_app_id = "${ids.BROKER}"

[log]
format = "pretty"
level = "warn"

${credentials}`;
}

function binary(name) {
  const file = path.join(BIN, name);
  if (!fs.existsSync(file)) throw new Error(`missing ${file}: cargo build -p sts -p entra-emulator`);
  return file;
}

/** Spawns a child whose output goes to a log file; rejects if it exits before `ready` resolves. */
function run(file, args, logFile) {
  const log = fs.openSync(logFile, "a");
  // TESSERA_* variables of the caller (e.g. TEST_PG_URL) would be read as STS settings.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TESSERA_")));
  const child = spawn(file, args, { stdio: ["ignore", log, log], env: { ...env, RUST_LOG: "warn" } });
  child.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return child;
}

async function waitFor(what, check, child, logFile, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  child.exited.then((e) => (exited = e));
  for (;;) {
    if (exited) {
      throw new Error(`${what} exited (${JSON.stringify(exited)}):\n${fs.readFileSync(logFile, "utf8").slice(-4000)}`);
    }
    try {
      if (await check()) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${what} did not come up in ${timeoutMs} ms; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100)); // polling for start-up, not timing a test
  }
}

async function httpOk(url) {
  const res = await fetch(url);
  return res.ok;
}

/** Starts the whole stack; returns its addresses and a stop() function. */
/** `signInPage`: the emulator shows its sign-in pages (see emulatorConfig). */
async function startStack({ signInPage = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-e2e-"));
  const [pagePort, emulatorPort, stsPort] = [await freePort(), await freePort(), await freePort()];
  const pageOrigin = `http://127.0.0.1:${pagePort}`;
  const emulatorBase = `http://127.0.0.1:${emulatorPort}`;
  const stsBase = `http://127.0.0.1:${stsPort}`;

  // One certificate for the three client apps: the STS signs with it, the emulator trusts it.
  const certDir = path.join(dir, "certs");
  execFileSync(binary("sts"), ["cert", "new", "--cn", "e2e-client", "--out", certDir], { stdio: "ignore" });
  const certFile = fs.readdirSync(certDir).find((f) => f.endsWith(".cert.pem"));
  const keyFile = fs.readdirSync(certDir).find((f) => f.endsWith(".key.pem"));
  const cert = path.join(certDir, certFile);
  const key = path.join(certDir, keyFile);
  const certPem = fs.readFileSync(cert, "utf8");
  const thumbprint = new crypto.X509Certificate(certPem).fingerprint256.replace(/:/g, "").toLowerCase();

  const emulatorJson = path.join(dir, "emulator.json");
  fs.writeFileSync(emulatorJson, JSON.stringify(emulatorConfig({ httpPort: emulatorPort, pageOrigin, certPem, signInPage }), null, 2));
  fs.mkdirSync(path.join(dir, "registry"));
  fs.writeFileSync(path.join(dir, "registry", "20260101000000_e2e_registry.sql"), registryMigration(thumbprint));
  const stsToml = path.join(dir, "sts.toml");
  fs.writeFileSync(stsToml, stsConfig({ stsPort, emulatorBase, pageOrigin, dir, cert, key }));

  const pageServer = await startPageServer(pagePort);
  const children = [];
  const stop = async () => {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(children.map((c) => c.exited));
    await new Promise((r) => pageServer.close(r));
    if (!process.env.E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const emuLog = path.join(dir, "emulator.log");
    const emulator = run(binary("entra-emulator"), ["serve", "--config", emulatorJson], emuLog);
    children.push(emulator);
    await waitFor("entra-emulator", () => httpOk(`${emulatorBase}/${ids.TENANT}/v2.0/.well-known/openid-configuration`), emulator, emuLog);
    const stsLog = path.join(dir, "sts.log");
    const sts = run(binary("sts"), ["--config", stsToml, "serve"], stsLog);
    children.push(sts);
    await waitFor("sts", () => httpOk(`${stsBase}/readyz`), sts, stsLog);
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, pageOrigin, emulatorBase, stsBase, stop };
}

/** The emulator's admin API (faults, counters). */
async function emulatorAdmin(stack, method, route, body) {
  const res = await fetch(`${stack.emulatorBase}/_admin${route}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} /_admin${route}: HTTP ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

module.exports = { startStack, emulatorAdmin, ROOT, DIST };
