/**
 * Tessera browser token broker — `window.Tessera`, API v1.
 *
 * Loaded once per page (Application Ribbon). The script registers the object synchronously, frozen
 * and non-writable, on `window.top` when this frame may reach it, else on `window` (and aliases it
 * on the loading frame's `window`). Loading the script again keeps the first instance. Calls made
 * while the wasm is still starting wait for it; calls made before `configure` wait for that.
 *
 * Controls get it with (works whether the ribbon script has run yet or not):
 * ```ts
 * function tessera(): Promise<TesseraApi> {
 *   let w: Window = window;
 *   try { if (window.top && window.top.Tessera) w = window.top; } catch { }  // cross-origin top
 *   if (w.Tessera) return w.Tessera.ready;
 *   return new Promise(resolve =>
 *     w.addEventListener("tessera:ready", e => resolve((e as CustomEvent<TesseraApi>).detail), { once: true }));
 * }
 * ```
 * `ready` (and the `tessera:ready` event, dispatched on the host window and the loading window)
 * means "usable": `configure` has accepted its options. It does not wait for the STS: the calls
 * that need its `/broker/config` (`getToken`, and `signIn` after opening its popup) wait for that
 * answer themselves and fail with its error (`network_error`, `sts_error` …) if it cannot be had;
 * `configure`'s own promise settles once it is in hand.
 */

/** Error codes of a {@link TokenBrokerError}. */
export type TokenBrokerErrorCode =
  /** Sign-in (or step-up, see `claims`) needed: call again with `interactive: "ifRequired"`, or `signIn()`, from a click. */
  | "interaction_required"
  /** A tenant admin must consent to the workload: show `consentUrl`. */
  | "consent_required"
  /** The browser blocked the popup: the call did not run inside a click. */
  | "popup_blocked"
  /** The user closed the sign-in window or declined. */
  | "user_cancelled"
  /** The call or the configuration is wrong; retrying will not help. */
  | "invalid_request"
  /** The STS or Entra refused or failed; see `retryable`. */
  | "sts_error"
  /** The STS or Entra could not be reached. */
  | "network_error"
  /** A request took longer than 30 s, or the sign-in longer than 10 min. */
  | "timeout"
  /** `signOut()` ran (in this tab or another tab of the origin) while the call was in flight. */
  | "user_signed_out"
  /**
   * The frame that loaded the bundle (and registered `Tessera` on the top window) was removed or
   * navigated away: load the bundle in the top window (the Application Ribbon does).
   */
  | "broker_unloaded";

/** What every promise of the API rejects with. `name` is `"TokenBrokerError"`; it is an `Error`. */
export interface TokenBrokerError extends Error {
  readonly name: "TokenBrokerError";
  readonly code: TokenBrokerErrorCode;
  readonly description: string;
  /** `x-correlation-id` of the STS call (or Entra's), for support. */
  readonly correlationId: string | null;
  /** Whether the same call may succeed later without user action. */
  readonly retryable: boolean;
  /**
   * With `interaction_required` after a claims challenge (MFA / Conditional Access): the claims
   * request (JSON). The broker remembers it; the next interactive `getToken` for the workload
   * satisfies it. You do not need to pass it back.
   */
  readonly claims: string | null;
  /** With `consent_required`: the admin-consent page to show or link to. */
  readonly consentUrl: string | null;
}

export interface ConfigureOptions {
  /** Base URL of the Tessera STS, e.g. `https://sts.contoso.com`. https only (http on loopback). */
  stsUrl: string;
  /**
   * Absolute URL of `redirect.html` on this page's origin (a web resource, e.g.
   * `https://org.crm.dynamics.com/WebResources/new_/tessera/redirect.html`), registered as an
   * **SPA** redirect URI on the broker app.
   */
  redirectUri: string;
  /** Tenant id or domain. Default: `Xrm.Utility.getGlobalContext().organizationSettings.tenantId`. */
  tenantId?: string;
  /** `login_hint`. Default: `Xrm.Utility.getGlobalContext().userSettings.userName`. */
  loginHint?: string;
  /** Where the session is kept: memory only (the former `"sessionStorage"` mode was removed and is rejected). */
  persistence?: "memory";
  /**
   * A sign-in authority other than Microsoft Entra's built-in hosts (public and sovereign clouds),
   * as an origin, e.g. `"https://login.contoso.example"` (the emulator in demos and tests). The
   * STS's `/broker/config` may then only repeat it; without it, only Microsoft's hosts are used.
   */
  authority?: string;
}

/**
 * Only in `tessera-broker-pages.js`, the Power Pages bundle: `tessera-broker.js` (Power Apps) has
 * no Power Pages mode and rejects these options with `invalid_request` ("configure: powerPages
 * needs tessera-broker-pages.js"). `tessera-broker-pages.js` has only this mode: there,
 * `ConfigureOptions`, `signIn` and a `getToken` before this `configure` reject with `invalid_request`.
 * On a Power Pages site: no Entra sign-in and no popup. The broker asks the site for its signed-in
 * contact's token (`POST /_services/auth/token`, same origin) and exchanges it at the STS for the
 * workload's app-only token; both are cached until shortly before they expire. `getToken` then
 * takes the backend's `.default` scope, fully qualified.
 */
export interface PowerPagesOptions {
  identity: "powerPages";
  /** Base URL of the Tessera STS (its `server.cors_origins` must allow the site). */
  stsUrl: string;
  /** A client id of the site setting `ImplicitGrantFlow/RegisteredClientId` (registered at the STS too). */
  clientId: string;
  /** Path of the site on its origin when it is not the root (default `""`). */
  sitePath?: string;
}

export interface TokenRequest {
  /** Workload name, as configured at the STS (e.g. `"file-picker"`). */
  workload: string;
  /**
   * Scopes of ONE backend resource: short (`"Files.Read"`, resolved against the workload's backends)
   * or fully qualified (`"https://graph.microsoft.com/Files.Read"`).
   */
  scopes: string[];
  /** A claims request (JSON) from a backend's claims challenge (CAE). Bypasses the cache. */
  claims?: string;
  /** Skip the broker's caches (backend token and user token). */
  forceRefresh?: boolean;
  /**
   * `"never"` (default): never opens a popup; rejects with `interaction_required`.
   * `"ifRequired"`: may open the sign-in popup — call it directly from a click handler.
   */
  interactive?: "never" | "ifRequired";
}

export interface TokenResult {
  readonly accessToken: string;
  /** `"Bearer"`. */
  readonly tokenType: string;
  /** When the token expires (the broker renews 5 minutes earlier). */
  readonly expiresOn: Date;
  /** Granted scopes, as the STS reported them. */
  readonly scopes: readonly string[];
  /** Whether it came from the broker's cache. */
  readonly fromCache: boolean;
  /** `x-correlation-id` of the STS call that produced it. */
  readonly correlationId: string;
}

export interface SignInOptions {
  prompt?: "login" | "select_account" | "consent" | "none" | "create";
  loginHint?: string;
}

export interface Account {
  /** `preferred_username`. */
  readonly username: string;
  readonly name: string | null;
  readonly tenantId: string | null;
  readonly objectId: string | null;
}

export type TesseraStatus = "unconfigured" | "signedOut" | "signingIn" | "signedIn";

export interface TesseraApi {
  /** Version of this broker build (semver). */
  readonly version: string;
  /** Major version of this API: 1. */
  readonly apiVersion: 1;
  /** Resolves (with this object) once `configure` has accepted its options (not waiting for the STS). Also announced by a `tessera:ready` event. */
  readonly ready: Promise<TesseraApi>;
  /**
   * Configures the broker: checks the options (then `ready` resolves) and fetches
   * `GET {stsUrl}/broker/config` (then this promise resolves). Idempotent: later calls return the
   * first call's promise, so a ribbon enable rule may call it every time it runs. A failed call may
   * be retried. Calls to `getToken` made before it completes wait for it, and share its failure.
   */
  configure(options: ConfigureOptions | PowerPagesOptions): Promise<void>;
  /**
   * A backend token for a workload. Silent by default. Identical concurrent calls share one promise;
   * results are cached until 5 minutes before expiry. Interactive sign-ins are queued, never
   * failed with "in progress": a call that needs one while another runs waits for it.
   */
  getToken(request: TokenRequest): Promise<TokenResult>;
  /**
   * Signs in with a popup. Call it directly from a click handler (the popup opens synchronously).
   * When a user is already signed in and no `prompt` is given, it resolves with that account and
   * opens no popup (pass `prompt: "select_account"` to switch accounts).
   */
  signIn(options?: SignInOptions): Promise<Account>;
  /**
   * Forgets the session and every cached token in this tab and in every other tab of the origin
   * (same Dynamics user); calls in flight there and here reject with `user_signed_out`, and an open
   * sign-in popup closes. No Entra sign-out: the browser's Entra session stays, as the model-driven
   * app's own does.
   */
  signOut(): Promise<void>;
  getAccount(): Account | null;
  getStatus(): TesseraStatus;
  /** Called on every status change (e.g. so every control resumes after one "Sign in" click). Returns an unsubscribe function. */
  onStatusChange(callback: (status: TesseraStatus, account: Account | null) => void): () => void;
  /** Type guard for rejections. */
  isTokenBrokerError(e: unknown): e is TokenBrokerError;
}

declare global {
  interface Window {
    readonly Tessera?: TesseraApi;
  }
  interface WindowEventMap {
    "tessera:ready": CustomEvent<TesseraApi>;
  }
}
