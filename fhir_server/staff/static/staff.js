/*
 * The staff pages' shell: sign-in (OAuth 2 authorization code with PKCE, as any SMART app),
 * calls to the FHIR API with the user's token, the role gate, and locale formatting.
 *
 * A page's own script (served at /staff/<name>.js, loaded after this one) calls
 *
 *     staff.start(async (user) => { ... });
 *
 * which runs once the user is signed in and their role may open the page. `user` is
 * {username, role, fhirUser}. docs/staff-pages.md lists the rest of `staff`.
 */
"use strict";

window.staff = (() => {
  const CLIENT_ID = "staff-pages";
  const CALLBACK = "/staff/signed-in";
  const TOKEN_KEY = "staff.token";
  const PKCE_KEY = "staff.pkce";
  const lang = document.documentElement.lang || "en";
  let pageRun = null;

  class StaffError extends Error {
    /** A refusal or failure to show the user: `message` is already in their language. */
    constructor(message, status = 0, outcome = null) {
      super(message);
      this.status = status;
      this.outcome = outcome;
    }
  }

  function word(key, values = {}) {
    const found = document.getElementById("staff-words").content.querySelector(`[data-word="${key}"]`);
    let text = found ? found.textContent.trim() : key;
    for (const [name, value] of Object.entries(values)) text = text.replaceAll(`{${name}}`, String(value));
    return text;
  }

  function base64url(bytes) {
    return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomText(size) {
    return base64url(crypto.getRandomValues(new Uint8Array(size)));
  }

  async function signIn() {
    const verifier = randomText(48);
    const state = randomText(24);
    const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const back = location.pathname + location.search + location.hash;
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, back }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: CLIENT_ID,
      redirect_uri: location.origin + CALLBACK,
      scope: "openid fhirUser user/*.cruds",
      state,
      aud: document.body.dataset.aud,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    location.assign("/auth/authorize?" + query);
    return new Promise(() => {}); // the browser is leaving the page
  }

  async function finishSignIn() {
    const params = new URLSearchParams(location.search);
    const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    sessionStorage.removeItem(PKCE_KEY);
    if (!saved || params.get("state") !== saved.state || !params.get("code")) throw new StaffError(word("sign-in-failed"));
    const response = await fetch("/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: params.get("code"),
        redirect_uri: location.origin + CALLBACK,
        client_id: CLIENT_ID,
        code_verifier: saved.verifier,
      }),
    });
    if (!response.ok) throw new StaffError(word("sign-in-failed"));
    const token = await response.json();
    const expires = Date.now() + 1000 * (token.expires_in || 300) - 10000;
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ access: token.access_token, expires }));
    const back = String(saved.back || "");
    location.replace(back.startsWith("/staff/") && !back.startsWith(CALLBACK) ? back : "/staff/");
  }

  function token() {
    const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
    return saved && saved.expires > Date.now() ? saved.access : null;
  }

  function outcomeText(data) {
    if (!data || data.resourceType !== "OperationOutcome") return "";
    return (data.issue || []).map((issue) => (issue.details && issue.details.text) || issue.diagnostics || "").filter(Boolean).join(" ");
  }

  async function call(url, { method = "GET", body, headers = {} } = {}) {
    const access = token();
    if (!access) return signIn();
    const init = { method, headers: { Accept: "application/fhir+json", "Accept-Language": lang, Authorization: "Bearer " + access, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      if (!("Content-Type" in init.headers)) init.headers["Content-Type"] = "application/fhir+json";
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new StaffError(word("unreachable"));
    }
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      return signIn();
    }
    return response;
  }

  async function read(response) {
    const type = response.headers.get("content-type") || "";
    if (response.status === 204) return null;
    if (type.includes("json")) return response.json();
    return type.startsWith("text/") ? response.text() : response.blob();
  }

  /** Call the FHIR API: `path` relative to the FHIR base ("Patient?name=x") or an absolute link of a Bundle. */
  async function fhir(path, options = {}) {
    const url = path.startsWith(location.origin + "/") ? path : "/fhir/" + path.replace(/^\/+/, "");
    const response = await call(url, options);
    const data = await read(response);
    if (!response.ok) throw new StaffError(outcomeText(data) || word("refused"), response.status, data);
    return data;
  }

  /** Save what the FHIR API answers at `path` (a CSV, a PDF) as a file named `filename`. */
  async function download(path, filename, options = {}) {
    const response = await call("/fhir/" + path.replace(/^\/+/, ""), { ...options, headers: { Accept: "*/*", ...(options.headers || {}) } });
    if (!response.ok) throw new StaffError(outcomeText(await read(response)) || word("refused"), response.status);
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: filename });
    document.body.append(link);
    link.click();
    link.remove();
  }

  /** A new element: `el("td", {class: "money"}, "12.00", otherNode)`; text is always text, never HTML. */
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
    return node;
  }

  function alert(message) {
    const box = document.getElementById("staff-alert");
    box.textContent = message;
    box.hidden = !message;
  }

  function showError(error) {
    alert(error instanceof StaffError ? error.message : word("refused"));
    if (!(error instanceof StaffError)) console.error(error);
  }

  function localDate(value) {
    const [year, month, day] = String(value).slice(0, 10).split("-").map(Number);
    return new Date(year, (month || 1) - 1, day || 1);
  }

  const formats = {
    date: new Intl.DateTimeFormat(lang, { dateStyle: "medium" }),
    dateTime: new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }),
    time: new Intl.DateTimeFormat(lang, { timeStyle: "short" }),
    weekday: new Intl.DateTimeFormat(lang, { weekday: "long", day: "numeric", month: "long" }),
  };

  function formatDate(value) {
    return value ? formats.date.format(String(value).length <= 10 ? localDate(value) : new Date(value)) : "";
  }

  function formatDateTime(value) {
    return value ? formats.dateTime.format(new Date(value)) : "";
  }

  function formatTime(value) {
    return value ? formats.time.format(new Date(value)) : "";
  }

  function formatDay(value) {
    return value ? formats.weekday.format(String(value).length <= 10 ? localDate(value) : new Date(value)) : "";
  }

  /** FHIR Money ({value, currency}) in the page's language; the decimal goes to Intl as text, never as a float. */
  function formatMoney(money) {
    if (!money || money.value === undefined || money.value === null) return "";
    const style = money.currency ? { style: "currency", currency: money.currency } : { minimumFractionDigits: 2 };
    return new Intl.NumberFormat(lang, style).format(String(money.value));
  }

  /** A person's name from a FHIR HumanName list: the official (or first) one, as people write it. */
  function personName(names) {
    const list = names || [];
    const name = list.find((n) => n.use === "official") || list.find((n) => n.use === "usual") || list[0];
    if (!name) return "";
    return name.text || [...(name.prefix || []), ...(name.given || []), name.family].filter(Boolean).join(" ");
  }

  /** The words of a CodeableConcept: its text, else its first coding's display, else the code. */
  function codeText(concept) {
    if (!concept) return "";
    const coding = (concept.coding || [])[0] || {};
    return concept.text || coding.display || coding.code || "";
  }

  async function me() {
    const response = await call("/staff/me");
    if (!response.ok) throw new StaffError(word("sign-in-failed"));
    return response.json();
  }

  function showFor(role) {
    for (const node of document.querySelectorAll("[data-roles]")) {
      if (node === document.body) continue;
      node.hidden = !node.dataset.roles.split(" ").includes(role);
    }
    const none = document.getElementById("staff-none");
    if (none) none.hidden = document.querySelector(".tiles li:not([hidden])") !== null;
  }

  async function signOut() {
    const access = token();
    sessionStorage.removeItem(TOKEN_KEY);
    if (access) {
      await fetch("/auth/revoke", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: access, client_id: CLIENT_ID }),
      }).catch(() => null);
    }
    location.assign("/auth/logout");
  }

  async function boot() {
    if (location.pathname === CALLBACK) return finishSignIn();
    if (!token()) return signIn();
    const user = await me();
    document.getElementById("staff-user").textContent = word("signed-in-as", { username: user.username });
    const signOutButton = document.getElementById("staff-sign-out");
    signOutButton.hidden = false;
    signOutButton.addEventListener("click", signOut);
    showFor(user.role);
    document.getElementById("staff-wait").hidden = true;
    const allowed = (document.body.dataset.roles || "").split(" ").filter(Boolean);
    if (allowed.length && !allowed.includes(user.role)) {
      document.getElementById("staff-refused").hidden = false;
      return;
    }
    document.getElementById("staff-page").hidden = false;
    if (pageRun) await pageRun(user);
    document.body.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", () => {
    boot().catch((error) => {
      document.getElementById("staff-wait").hidden = true;
      showError(error);
    });
  });

  return {
    StaffError,
    start: (run) => {
      pageRun = run;
    },
    fhir,
    download,
    el,
    word,
    alert,
    showError,
    formatDate,
    formatDateTime,
    formatTime,
    formatDay,
    formatMoney,
    personName,
    codeText,
  };
})();
