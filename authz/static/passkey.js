// Tollgate passkeys: the only script. It turns the server's WebAuthn options
// (base64url strings) into what navigator.credentials expects, and the
// credential back into JSON, and reports the time-zone offset with a sign-in
// (a risk signal). Loaded with script-src 'self'; no inline code.
"use strict";
(function () {
  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }).buffer;
  }
  function toB64u(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  // The page's language: the texts are on #passkey-error (data-failed,
  // data-cancelled), rendered from the catalogs; English if absent.
  function text(which) {
    var e = document.getElementById("passkey-error");
    var t = e && e.dataset[which];
    return t || (which === "cancelled" ? "The passkey was not used." : "The passkey was not accepted.");
  }
  function showError(msg) {
    var e = document.getElementById("passkey-error");
    if (e) { e.textContent = msg; e.hidden = false; }
  }
  // Minutes east of UTC, a browser signal for the risk score (docs/risk.md).
  function tzOffset() { return String(-new Date().getTimezoneOffset()); }
  document.querySelectorAll('input[name="tz"]').forEach(function (i) { i.value = tzOffset(); });
  async function post(url, body) {
    var r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json" }, body: JSON.stringify(body)
    });
    var j = {};
    try { j = await r.json(); } catch (_) { /* not JSON */ }
    if (j.redirect) { window.location.assign(j.redirect); return null; }
    if (!r.ok) { var err = new Error(j.message || text("failed")); err.server = true; throw err; }
    return j;
  }
  async function signIn(btn) {
    var start = await post(btn.dataset.endpoint + "/options", { csrf: btn.dataset.csrf });
    if (!start) return;
    var pk = start.options.publicKey;
    pk.challenge = toBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
    var cred = await navigator.credentials.get({ publicKey: pk });
    var r = cred.response;
    await post(btn.dataset.endpoint, {
      csrf: btn.dataset.csrf, ceremony: start.ceremony, tz: tzOffset(),
      response: {
        id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
        extensions: cred.getClientExtensionResults(),
        response: {
          authenticatorData: toB64u(r.authenticatorData),
          clientDataJSON: toB64u(r.clientDataJSON),
          signature: toB64u(r.signature),
          userHandle: r.userHandle ? toB64u(r.userHandle) : null
        }
      }
    });
  }
  async function register(btn) {
    var start = await post(btn.dataset.endpoint + "/options", { csrf: btn.dataset.csrf });
    if (!start) return;
    var pk = start.options.publicKey;
    pk.challenge = toBuf(pk.challenge);
    pk.user.id = toBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
    var cred = await navigator.credentials.create({ publicKey: pk });
    var r = cred.response;
    var name = document.getElementById("passkey-name");
    await post(btn.dataset.endpoint, {
      csrf: btn.dataset.csrf, ceremony: start.ceremony, name: name ? name.value : "",
      response: {
        id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
        extensions: cred.getClientExtensionResults(),
        response: {
          attestationObject: toB64u(r.attestationObject),
          clientDataJSON: toB64u(r.clientDataJSON),
          transports: r.getTransports ? r.getTransports() : []
        }
      }
    });
  }
  function wire(id, fn) {
    var btn = document.getElementById(id);
    if (!btn) return;
    if (!window.PublicKeyCredential) { btn.disabled = true; return; }
    btn.addEventListener("click", function () {
      btn.disabled = true;
      fn(btn).catch(function (e) {
        if (e && e.server) showError(e.message);
        else showError(text(e && (e.name === "NotAllowedError" || e.name === "AbortError") ? "cancelled" : "failed"));
      })
        .finally(function () { btn.disabled = false; });
    });
  }
  wire("passkey-signin", signIn);
  wire("passkey-register", register);
})();
