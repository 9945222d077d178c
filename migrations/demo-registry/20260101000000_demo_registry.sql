-- The demo registry used by `sts demo` and the tests: one broker app, the file-picker workload
-- (client app with App ID URI api://<client-id>), Microsoft Graph as its backend with
-- Files.Read and User.Read, one consented demo tenant, and a certificate reference.
-- The same GUIDs are `pub const`s in `registry::demo`.

INSERT INTO app_registrations (app_id, role, display_name, resource_uri) VALUES
    ('aaa36729-c0f3-47d1-9c10-c4e2752a73a5', 'broker', 'Tessera demo broker', NULL),
    ('74d4521a-2fb0-478a-8f36-c6518b55ba49', 'client', 'Tessera demo file picker', NULL),
    ('00000003-0000-0000-c000-000000000000', 'backend', 'Microsoft Graph',
     'https://graph.microsoft.com');

INSERT INTO app_id_uris (app_id, uri)
VALUES ('74d4521a-2fb0-478a-8f36-c6518b55ba49', 'api://74d4521a-2fb0-478a-8f36-c6518b55ba49');

INSERT INTO workloads (name, client_app_id, enabled, required_scope)
VALUES ('file-picker', '74d4521a-2fb0-478a-8f36-c6518b55ba49', TRUE, 'access_as_user');

INSERT INTO workload_brokers (workload, broker_app_id)
VALUES ('file-picker', 'aaa36729-c0f3-47d1-9c10-c4e2752a73a5');

INSERT INTO workload_backend_scopes (workload, backend_app_id, scope) VALUES
    ('file-picker', '00000003-0000-0000-c000-000000000000', 'Files.Read'),
    ('file-picker', '00000003-0000-0000-c000-000000000000', 'User.Read');

INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference)
VALUES ('7ec0c3c6-ea9e-468c-8dc8-70754fe89a2d', 'file-picker', 'granted',
        '2026-01-01T00:00:00Z', 'demo tenant');

INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at)
VALUES ('74d4521a-2fb0-478a-8f36-c6518b55ba49',
        '72a2aa02219b41e0eb279e66ce397e1bd4183cef4bb7b6c0b5526f9661f60f6a',
        'demo file-picker certificate (reference only)', '2026-01-01T00:00:00Z');
