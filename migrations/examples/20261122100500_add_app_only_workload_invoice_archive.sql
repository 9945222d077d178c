-- Example: an APP-ONLY workload ("invoice-archive"): the STS obtains a client-credentials token as
-- the workload's client app for the backend's `.default` scope, instead of an on-behalf-of token.
-- Opt-in per workload (the workload_app_only row) and per tenant (tenant_consents, as for any
-- workload). Who may obtain it: an Entra user whose token (through the broker) carries the app
-- role `Invoices.Archive.Reader` in `roles`, or is in the group below (`groups`); and the contacts
-- of the Power Pages sites listed in site_workloads (next example). The token is cached per client
-- app, backend and tenant — never per user — and every audit record still names who asked.
--
-- In Entra: the backend exposes an application permission (app role), the client app requests it
-- and a tenant admin grants it (admin consent); the client app exposes the user-assignable app
-- role `Invoices.Archive.Reader` (or `groups` is emitted in its tokens).

INSERT INTO app_registrations (app_id, role, display_name, resource_uri)
VALUES ('bac483c8-bfa2-4aa9-883b-5a47ce6233d2', 'broker', 'Contoso Tessera broker', NULL)
ON CONFLICT (app_id) DO NOTHING;

INSERT INTO app_registrations (app_id, role, display_name, resource_uri)
VALUES ('5f0c1a52-8a43-4c49-9f0e-3b4d1c2e7a61', 'client', 'Contoso invoice archive', NULL);

INSERT INTO app_registrations (app_id, role, display_name, resource_uri)
VALUES ('8e2d4b7a-1c3f-4e5d-a6b7-c8d9e0f1a2b3', 'backend', 'Contoso Archive API',
        'api://8e2d4b7a-1c3f-4e5d-a6b7-c8d9e0f1a2b3');

INSERT INTO workloads (name, client_app_id, enabled, required_scope)
VALUES ('invoice-archive', '5f0c1a52-8a43-4c49-9f0e-3b4d1c2e7a61', TRUE, 'access_as_user');

-- Entra users reach it through the broker, as for a delegated workload.
INSERT INTO workload_brokers (workload, broker_app_id)
VALUES ('invoice-archive', 'bac483c8-bfa2-4aa9-883b-5a47ce6233d2');

-- App-only tokens are for `<resource>/.default` only.
INSERT INTO workload_backend_scopes (workload, backend_app_id, scope)
VALUES ('invoice-archive', '8e2d4b7a-1c3f-4e5d-a6b7-c8d9e0f1a2b3', '.default');

-- The opt-in, with what an Entra user must hold (either suffices; at least one is required).
INSERT INTO workload_app_only (workload, required_role, required_group)
VALUES ('invoice-archive', 'Invoices.Archive.Reader', '0b6c7f3e-2a51-4d8e-9c47-1f2e3d4c5b6a');

INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference)
VALUES ('caf30cf9-f297-46b2-aa07-de549604846f', 'invoice-archive', 'granted',
        '2026-11-22T10:05:00Z', 'CHG-2077: application permission granted by it-admin@contoso.example')
ON CONFLICT (tenant_id, workload) DO UPDATE
SET status = excluded.status, changed_at = excluded.changed_at, reference = excluded.reference;

INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at)
VALUES ('5f0c1a52-8a43-4c49-9f0e-3b4d1c2e7a61',
        'a3c1f0e2d4b6a8c0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8',
        'invoice-archive 2026 (CN=invoice-archive.contoso.example)', '2026-11-22T10:05:00Z');
