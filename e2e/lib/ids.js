// The E2E directory: one tenant, two users (the second only for the account picker), the broker app, three workloads' client apps, and the
// two backends. Fixed GUIDs (lower-case, as Tessera handles them) used by the emulator config,
// the registry migration and the assertions.
"use strict";

module.exports = Object.freeze({
  TENANT: "5e2e0000-0000-4000-8000-000000000001",
  USER_OID: "5e2e0000-0000-4000-8000-00000000a0a0",
  USER_UPN: "adele@e2e.onmicrosoft.com",
  OTHER_USER_OID: "5e2e0000-0000-4000-8000-00000000b0b0",
  OTHER_USER_UPN: "megan@e2e.onmicrosoft.com",
  BROKER: "5e2e0000-0000-4000-8000-0000000000b0",
  FILE_PICKER: "5e2e0000-0000-4000-8000-0000000000c1",
  EXPENSES: "5e2e0000-0000-4000-8000-0000000000c2",
  UNCONSENTED: "5e2e0000-0000-4000-8000-0000000000c3",
  EXPENSES_API: "5e2e0000-0000-4000-8000-0000000000a2",
  GRAPH: "00000003-0000-0000-c000-000000000000",
});
