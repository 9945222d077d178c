-- Example: let an existing workload obtain one more scope of one of its backends.
-- The tenants' administrators must consent again in Entra if the client app's required
-- permissions changed; Tessera's own consent record stays as it is.
INSERT INTO workload_backend_scopes (workload, backend_app_id, scope)
VALUES ('expense-report', '25182f8f-3162-40f4-b99f-4beecbb81217', 'Expenses.Submit');
