//! `GET /openapi.json`. Written by hand: a handful of routes do not justify a derive framework and
//! its compile time. `sts/tests/openapi.rs` ties `/token`'s error answers to `ExchangeError`: a
//! variant whose status is not documented here fails it.

use axum::Json;
use serde_json::{Value, json};
use tessera_wire::error as code;
use tessera_wire::{grant_type, token_type};

pub async fn openapi() -> Json<Value> {
    Json(document())
}

pub fn document() -> Value {
    let error = json!({
        "type": "object",
        "required": ["error", "error_description", "correlation_id"],
        "properties": {
            "error": { "type": "string", "enum": [code::INVALID_REQUEST, code::UNSUPPORTED_GRANT_TYPE, code::INVALID_SCOPE, code::INVALID_TARGET, code::INVALID_GRANT, code::UNAUTHORIZED_CLIENT, code::CONSENT_REQUIRED, code::ACCESS_DENIED, code::INSUFFICIENT_CLAIMS, code::TEMPORARILY_UNAVAILABLE, code::SERVER_ERROR] },
            "error_description": { "type": "string" },
            "correlation_id": { "type": "string" },
            "consent_url": { "type": "string", "description": "Admin-consent URL (with consent_required)." },
            "claims": { "type": "string", "description": "Base64 claims challenge (with insufficient_claims); pass it decoded as the `claims` of the next sign-in, then retry." }
        }
    });
    let err_ref = json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Tessera STS", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Token exchange (RFC 8693) for browser code in Power Apps: a user's Entra token for a workload's client app in, a backend token obtained on behalf of the user out." },
        "paths": {
            "/token": { "post": {
                "summary": "Exchange a user token for a backend token (on-behalf-of)",
                "parameters": [{ "name": "x-correlation-id", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 64 } }],
                "requestBody": { "required": true, "content": { "application/x-www-form-urlencoded": { "schema": {
                    "type": "object",
                    "required": ["grant_type", "subject_token", "subject_token_type", "scope"],
                    "properties": {
                        "grant_type": { "const": grant_type::TOKEN_EXCHANGE },
                        "subject_token": { "type": "string", "description": "The user's Entra access token for the workload's client app, or a Power Pages site's token for its signed-in contact (then subject_token_type is ...:jwt, and only app-only workloads the site may use are served)." },
                        "subject_token_type": { "enum": [token_type::ACCESS_TOKEN, token_type::JWT] },
                        "scope": { "type": "string", "description": "Space-separated backend scopes of one resource, e.g. https://graph.microsoft.com/Files.Read" },
                        "audience": { "type": "string", "description": "Workload name (optional; must match an Entra token; names the workload of a Power Pages token when its site may use several)." },
                        "resource": { "type": "string" },
                        "requested_token_type": { "const": token_type::ACCESS_TOKEN },
                        "claims": { "type": "string", "description": "Claims challenge JSON a backend returned; bypasses the cache." }
                    } } } } },
                "responses": {
                    "200": { "description": "Backend token", "content": { "application/json": { "schema": {
                        "type": "object", "required": ["access_token", "issued_token_type", "token_type", "expires_in", "scope"],
                        "properties": { "access_token": { "type": "string" }, "issued_token_type": { "type": "string" }, "token_type": { "const": "Bearer" }, "expires_in": { "type": "integer" }, "scope": { "type": "string" } } } } } },
                    "400": { "description": "Invalid request, grant, scope or target", "content": err_ref },
                    "401": { "description": "insufficient_claims: re-authenticate with the claims challenge (also in WWW-Authenticate)", "content": err_ref },
                    "403": { "description": "consent_required (with consent_url), unauthorized_client or access_denied", "content": err_ref },
                    "405": { "description": "Not POST (Allow: POST)", "content": err_ref },
                    "408": { "description": "The body did not arrive within server.body_read_timeout_secs", "content": err_ref },
                    "413": { "description": "The body exceeds server.max_body_bytes", "content": err_ref },
                    "415": { "description": "The body is not application/x-www-form-urlencoded", "content": err_ref },
                    "431": { "description": "The headers exceed server.max_header_bytes", "content": err_ref },
                    "500": { "description": "The token service failed (see its log with the correlation id)", "content": err_ref },
                    "502": { "description": "Entra unreachable", "content": err_ref },
                    "503": { "description": "Entra throttled, failing or not answering within the deadline (Retry-After)", "content": err_ref }
                } } },
            "/broker/config": { "get": { "summary": "Configuration for the browser broker", "responses": { "200": { "description": "Broker app, authority, workloads" } } } },
            "/": { "get": { "summary": "Index of the endpoints (JSON, or HTML for browsers)", "responses": { "200": { "description": "the endpoints" } } } },
            "/healthz": { "get": { "summary": "Liveness", "responses": { "200": { "description": "ok" } } } },
            "/readyz": { "get": { "summary": "Readiness per dependency", "responses": { "200": { "description": "ready or degraded" }, "503": { "description": "not ready" } } } }
        },
        "components": { "schemas": { "Error": error } }
    })
}
