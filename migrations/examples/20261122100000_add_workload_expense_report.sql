-- Example: add a workload ("expense-report") with its apps, App ID URI, broker and backend scopes.
--
-- Copy into your operator migrations folder, rename with the current UTC time
-- (YYYYMMDDHHMMSS_<what>.sql) and replace the GUIDs with those of your app registrations.
-- Ids are lower-case GUIDs: the schema refuses anything else.

-- The broker app (SPA public client) is shared by all workloads: register it once. The
-- ON CONFLICT clause makes this statement harmless if an earlier migration already did.
INSERT INTO app_registrations (app_id, role, display_name, resource_uri)
VALUES ('bac483c8-bfa2-4aa9-883b-5a47ce6233d2', 'broker', 'Contoso Tessera broker', NULL)
ON CONFLICT (app_id) DO NOTHING;

-- The workload's client app (confidential client; Tessera holds its certificate).
INSERT INTO app_registrations (app_id, role, display_name, resource_uri)
VALUES ('067bdb17-4026-4f68-b529-94d1528fea12', 'client', 'Contoso expense report control', NULL);

-- Its App ID URI: v1 user tokens carry it as `aud` instead of the GUID.
INSERT INTO app_id_uris (app_id, uri)
VALUES ('067bdb17-4026-4f68-b529-94d1528fea12', 'api://067bdb17-4026-4f68-b529-94d1528fea12');

-- The backend the workload calls: a vendor API whose scopes are written against its App ID URI.
INSERT INTO app_registrations (app_id, role, display_name, resource_uri)
VALUES ('25182f8f-3162-40f4-b99f-4beecbb81217', 'backend', 'Contoso Expenses API',
        'api://25182f8f-3162-40f4-b99f-4beecbb81217');

-- The workload itself: one client app, enabled, with the scope the client app exposes.
INSERT INTO workloads (name, client_app_id, enabled, required_scope)
VALUES ('expense-report', '067bdb17-4026-4f68-b529-94d1528fea12', TRUE, 'access_as_user');

-- Which broker may obtain user tokens for this workload's client app.
INSERT INTO workload_brokers (workload, broker_app_id)
VALUES ('expense-report', 'bac483c8-bfa2-4aa9-883b-5a47ce6233d2');

-- The backend scopes the workload may obtain (bare names; the resource is the backend's).
INSERT INTO workload_backend_scopes (workload, backend_app_id, scope)
VALUES ('expense-report', '25182f8f-3162-40f4-b99f-4beecbb81217', 'Expenses.Read');
