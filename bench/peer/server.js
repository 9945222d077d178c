// The benchmark's peer: the OBO middle tier a PCF vendor would write with Microsoft's own library.
//
// Same wire contract as Tessera's `POST /token` (RFC 8693 form in, `access_token` JSON out), so one
// load script drives both. Per request, as such a service would do it:
//   1. validate the user's token with common npm libraries (`jsonwebtoken` + `jwks-rsa`, keys cached
//      by jwks-rsa): RS256 signature, issuer from discovery, aud = our client app, azp/appid = the
//      broker, scp contains the required scope;
//   2. `ConfidentialClientApplication.acquireTokenOnBehalfOf` with a certificate
//      (`clientCertificate: { thumbprintSha256, privateKey }`). msal-node keeps OBO results in its
//      in-memory token cache keyed by a hash of the user assertion, so a repeated token is a cache
//      hit — the "cached exchange" the benchmark compares.
// Node's built-in `http` server (no framework) keeps the peer as fast as a minimal one can be.
//
// Environment: PEER_PORT (0 = any), PEER_READY_FILE (JSON {"url"} written once listening),
// PEER_AUTHORITY_HOST (https base of the emulator; trust its CA with NODE_EXTRA_CA_CERTS),
// PEER_TENANT, PEER_CLIENT_ID, PEER_BROKER_APP_ID, PEER_REQUIRED_SCOPE (short name, e.g.
// access_as_user), PEER_CERT_PEM / PEER_KEY_PEM (paths).
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";

import { ConfidentialClientApplication, LogLevel } from "@azure/msal-node";
import jwt from "jsonwebtoken";
import jwksRsa from "jwks-rsa";

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const MAX_BODY = 32 * 1024;

function env(name) {
  const v = process.env[name];
  if (v === undefined || v === "") {
    throw new Error(`environment variable ${name} is required`);
  }
  return v;
}

const host = env("PEER_AUTHORITY_HOST").replace(/\/+$/, "");
const tenant = env("PEER_TENANT");
const clientId = env("PEER_CLIENT_ID").toLowerCase();
const brokerAppId = env("PEER_BROKER_APP_ID").toLowerCase();
const requiredScope = env("PEER_REQUIRED_SCOPE");
const authority = `${host}/${tenant}`;

// Discovery gives the issuer and the JWKS address, as a vendor's code would read them.
const discovery = await (await fetch(`${authority}/v2.0/.well-known/openid-configuration`)).json();
const jwks = jwksRsa({ jwksUri: discovery.jwks_uri, cache: true, rateLimit: true });

const certPem = readFileSync(env("PEER_CERT_PEM"), "utf8");
// msal-node wants a PKCS#8 PEM ("BEGIN PRIVATE KEY"); whatever the file holds, re-export it so.
const privateKey = createPrivateKey(readFileSync(env("PEER_KEY_PEM"), "utf8")).export({
  type: "pkcs8",
  format: "pem",
});
const thumbprintSha256 = new X509Certificate(certPem).fingerprint256.replaceAll(":", "");

const msal = new ConfidentialClientApplication({
  auth: {
    clientId,
    authority,
    // The emulator is not a Microsoft cloud host: trust it as given, no instance discovery.
    knownAuthorities: [new URL(host).host],
    clientCertificate: { thumbprintSha256, privateKey },
  },
  system: { loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback() {} } },
});

function getKey(header, callback) {
  jwks.getSigningKey(header.kid, (err, key) => callback(err, key?.getPublicKey()));
}

function verify(token) {
  return new Promise((resolve, reject) => {
    jwt.verify(
      token,
      getKey,
      { algorithms: ["RS256"], audience: [clientId, `api://${clientId}`], issuer: discovery.issuer },
      (err, claims) => (err ? reject(err) : resolve(claims)),
    );
  });
}

class OAuthError extends Error {
  constructor(status, error, description) {
    super(description);
    this.status = status;
    this.error = error;
  }
}

async function exchange(body) {
  const form = new URLSearchParams(body);
  if (form.get("grant_type") !== GRANT_TYPE) {
    throw new OAuthError(400, "unsupported_grant_type", "grant_type must be token-exchange");
  }
  if (form.get("subject_token_type") !== ACCESS_TOKEN_TYPE) {
    throw new OAuthError(400, "invalid_request", "subject_token_type must be an access token");
  }
  const token = form.get("subject_token");
  const scope = form.get("scope");
  if (!token || !scope) {
    throw new OAuthError(400, "invalid_request", "subject_token and scope are required");
  }
  let claims;
  try {
    claims = await verify(token);
  } catch (e) {
    throw new OAuthError(400, "invalid_grant", `subject token rejected: ${e.message}`);
  }
  const caller = String(claims.azp ?? claims.appid ?? "").toLowerCase();
  if (caller !== brokerAppId) {
    throw new OAuthError(400, "invalid_grant", "the subject token was not issued to the broker");
  }
  if (!String(claims.scp ?? "").split(" ").includes(requiredScope)) {
    throw new OAuthError(400, "invalid_grant", `scp does not contain ${requiredScope}`);
  }
  const result = await msal.acquireTokenOnBehalfOf({ oboAssertion: token, scopes: scope.split(" ") });
  if (!result) {
    throw new OAuthError(502, "temporarily_unavailable", "no token from Entra");
  }
  return {
    access_token: result.accessToken,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: "Bearer",
    expires_in: Math.max(0, Math.floor((result.expiresOn.getTime() - Date.now()) / 1000)),
    scope: result.scopes.join(" "),
  };
}

function send(res, status, body) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
    "cache-control": "no-store",
  });
  res.end(json);
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/token") {
    send(res, 404, { error: "not_found" });
    return;
  }
  const chunks = [];
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      req.destroy();
    } else {
      chunks.push(c);
    }
  });
  req.on("end", () => {
    exchange(Buffer.concat(chunks).toString("utf8")).then(
      (body) => send(res, 200, body),
      (e) => {
        if (e instanceof OAuthError) {
          send(res, e.status, { error: e.error, error_description: e.message });
        } else {
          // msal-node's ServerError carries Entra's error code; never echo tokens.
          send(res, 502, { error: e.errorCode ?? "server_error", error_description: String(e.errorMessage ?? e.message) });
        }
      },
    );
  });
});
server.keepAliveTimeout = 65_000;

server.listen(Number(process.env.PEER_PORT ?? 0), "127.0.0.1", () => {
  const { port } = server.address();
  const url = `http://127.0.0.1:${port}`;
  if (process.env.PEER_READY_FILE) {
    writeFileSync(process.env.PEER_READY_FILE, JSON.stringify({ url }));
  }
  console.log(`peer listening on ${url}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
