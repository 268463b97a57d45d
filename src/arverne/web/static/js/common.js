/* Arverne console: shared helpers (page data, messages, API calls, times, live events). */
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const A = (window.Arverne = { data: data, perms: new Set(data.permissions || []) });

  /* Messages: every visible string comes from the catalog of the page's language. */
  A.t = function (key, params) {
    let text = Object.prototype.hasOwnProperty.call(data.messages, key) ? data.messages[key] : key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
    }
    return text;
  };
  A.can = (permission) => A.perms.has(permission);

  /* Small DOM builder: text is always set as text, never parsed as HTML. */
  A.el = function (tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };

  /* Times: stored in UTC, shown in the city's time zone. */
  const timeFmt = new Intl.DateTimeFormat(data.lang, {
    timeZone: data.tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  const clockFmt = new Intl.DateTimeFormat(data.lang, {
    timeZone: data.tz, hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const dateTimeFmt = new Intl.DateTimeFormat(data.lang, {
    timeZone: data.tz, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit",
    hour12: false,
  });
  A.time = (iso) => (iso ? timeFmt.format(new Date(iso)) : "");
  A.dateTime = (iso) => (iso ? dateTimeFmt.format(new Date(iso)) : "");
  A.duration = function (seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(r).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  };
  A.since = (iso) => (A.now().getTime() - Date.parse(iso)) / 1000;  // server times: corrected clock
  /* Metres between two {lon, lat} points (equirectangular: fine at city scale). */
  A.metres = function (a, b) {
    const k = Math.PI / 180, r = 6371000;
    const x = (b.lon - a.lon) * k * Math.cos(((a.lat + b.lat) / 2) * k), y = (b.lat - a.lat) * k;
    return r * Math.hypot(x, y);
  };

  /* API calls: JSON, the CSRF header, one place that handles an expired session. */
  function cookie(name) {
    const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }
  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && problem.detail) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
      this.errors = (problem && problem.errors) || [];
    }
  }
  A.ApiError = ApiError;
  A.toLogin = function (expired) {
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`/login?next=${next}${expired ? "&expired=1" : ""}`);
  };
  /* The server's clock, as far as this device can tell: a phone's clock may be minutes
     off, and what the crew reports is stamped with the time it was made. Each live
     answer's Date header (answers kept by the terminal's service worker for offline use
     do not count) bounds server time minus device time. The header is cut to the second
     and servers refresh it once a second, so between sending and receiving the server's
     clock read a time in [date, date + DATE_SLACK_MS]: the offset lies in
     [date - received, date + DATE_SLACK_MS - sent]. The bounds of the last few answers are
     intersected (a device clock changed meanwhile empties it: only the newest counts),
     and the smallest correction inside them is kept: none for a device in step with the
     server (or off by less than 5 s, which the server takes as it is), the right minutes
     for one that is not. Kept on the device too (a reload without network keeps it).
     A.now() is the device's time corrected by it. */
  const OFFSET_KEY = "arverne.clock_offset";
  const DATE_SLACK_MS = 2500;  // 1 s cut + 1 s refresh + the server's loop running late
  const DEAD_BAND_MS = 5000;   // smaller corrections are not made: a stale header could cause them
  const bounds = [];
  A.clockOffset = 0;
  try { A.clockOffset = Number(localStorage.getItem(OFFSET_KEY)) || 0; } catch (e) { /* storage off */ }
  A.now = () => new Date(Date.now() + A.clockOffset);
  A.deviceTime = (ms) => new Date(ms + A.clockOffset);  // a device timestamp, corrected
  function sampleClock(response, sent, received) {
    const date = response.headers.get("Date");
    if (!date || response.headers.get("X-Arverne-Kept")) return;
    const server = Date.parse(date);
    if (Number.isNaN(server)) return;
    bounds.push([server - received, server + DATE_SLACK_MS - sent]);
    if (bounds.length > 8) bounds.shift();
    let lo = Math.max(...bounds.map((b) => b[0])), hi = Math.min(...bounds.map((b) => b[1]));
    if (lo > hi) {
      bounds.splice(0, bounds.length - 1);
      [lo, hi] = bounds[0];
    }
    const offset = lo > 0 ? lo : hi < 0 ? hi : 0;
    A.clockOffset = Math.abs(offset) < DEAD_BAND_MS ? 0 : Math.round(offset);
    try { localStorage.setItem(OFFSET_KEY, String(A.clockOffset)); } catch (e) { /* storage off */ }
  }

  A.api = async function (method, url, body, headers) {
    const init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") init.headers["X-CSRF-Token"] = cookie("arverne_csrf");
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    Object.assign(init.headers, headers || {});
    let response;
    const sent = Date.now();
    try {
      response = await fetch(url, init);
    } catch (e) {  /* no network: nothing reached the server, or its answer was lost */
      throw new ApiError(0, { detail: A.t("net.offline") });
    }
    sampleClock(response, sent, Date.now());
    const type = response.headers.get("content-type") || "";
    const raw = response.status === 204 ? "" : await response.text();
    const payload = raw && type.includes("json") ? JSON.parse(raw) : null;
    if (response.status === 401 && A.data.user) {
      A.toLogin(true);
      throw new ApiError(401, payload);
    }
    if (!response.ok) throw new ApiError(response.status, payload);
    return payload;
  };
  /* A form's API errors next to their fields: the slot `#${prefix}${field}` for an error
     about `field` (e.g. "body.call.caller_phone" -> call-caller_phone, else call), the
     form's `.form-error` for the rest. */
  A.showErrors = function (form, error, prefix) {
    for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.textContent = "";
    const general = [];
    for (const item of error.errors || []) {
      const name = String(item.field || "").replace(/^body\.?/, "").replace(/[./]/g, "-");
      const slot = (name && (form.querySelector(`#${prefix}${name}`) ||
        form.querySelector(`#${prefix}${name.split("-")[0]}`))) || null;
      if (slot) slot.textContent = item.message;
      else general.push(item.message);
    }
    const formError = form.querySelector(".form-error");
    if (general.length || !(error.errors || []).length) formError.textContent = general.join(" ; ") || error.message;
  };
  /* A click handler for an action that must be confirmed: the first press shows
     `confirmText` on the button, a second one within 5 s calls `work(button)`. */
  A.twoPress = function (work, confirmText) {
    return (event) => {
      const button = event.currentTarget;
      if (!button.dataset.armed) {
        button.dataset.armed = "1";
        button.dataset.label = button.textContent;
        button.textContent = confirmText;
        setTimeout(() => { if (button.dataset.armed) { delete button.dataset.armed; button.textContent = button.dataset.label; } }, 5000);
        return;
      }
      delete button.dataset.armed;
      button.textContent = button.dataset.label;
      work(button);
    };
  };
  /* API tokens still usable, each as a list item: name, prefix, validity and last use,
     and a Revoke button (two presses) that calls `revoke(token, button)`. */
  A.tokenItems = function (tokens, revoke) {
    const live = tokens.filter((t) => !t.revoked_at && Date.parse(t.expires_at) > A.now().getTime());
    if (!live.length) return [A.el("li", { class: "muted", text: A.t("accounts.no_tokens") })];
    return live.map((t) => A.el("li", { dataset: { token: t.id } },
      A.el("strong", { text: t.name }), ` (${t.prefix}…) `,
      A.t("accounts.token_dates", { until: A.dateTime(t.expires_at), used: t.last_used_at ? A.dateTime(t.last_used_at) : A.t("accounts.never") }), " ",
      A.el("button", { type: "button", class: "btn btn-small btn-ghost token-revoke", "aria-label": A.t("accounts.revoke_one", { name: t.name }),
        onclick: A.twoPress((button) => revoke(t, button), A.t("accounts.revoke_confirm")) }, A.t("accounts.revoke"))));
  };
  /* A fresh Idempotency-Key: a request sent again with it is applied once. */
  A.newKey = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
  A.toast = function (text, kind) {
    let box = document.getElementById("toasts");
    if (!box) {
      box = A.el("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
      document.body.append(box);
    }
    const item = A.el("div", { class: `toast toast-${kind || "info"}`, text: text });
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  };

  /* Live events: EventSource reconnects by itself (Last-Event-ID); a lost stream is shown.
     The server ends each stream after `max_seconds` (900 s here; `?stream_seconds=N` on the
     page shortens it, for tests); the browser is back within 2 s, so the badge only shows
     when reconnecting takes longer than that. */
  const streamSeconds = Math.min(900, Math.max(1, Number(new URLSearchParams(location.search).get("stream_seconds")) || 900));
  const BADGE_DELAY_MS = 3000;
  A.live = function (after, handlers, onResync) {
    const status = document.getElementById("live-status");
    let lastId = after, source = null, lost = false, badge = null;
    const show = (state) => {
      clearTimeout(badge);
      status.hidden = state === "live";
      status.className = `live-status live-${state}`;
      status.textContent = A.t(`live.${state}`);
    };
    function open() {
      const from = lastId === null ? "" : `after=${lastId}&`;
      source = new EventSource(`/api/v1/events?${from}max_seconds=${streamSeconds}`);
      source.addEventListener("open", () => {
        if (lost && onResync) onResync();
        lost = false;
        show("live");
      });
      source.addEventListener("error", async () => {
        if (!lost) {
          clearTimeout(badge);
          badge = setTimeout(() => show("reconnecting"), BADGE_DELAY_MS);
        }
        lost = true;
        if (source.readyState === EventSource.CLOSED) {
          /* The server refused the stream: the session may be over. */
          try { await A.api("GET", "/api/v1/auth/me"); } catch (e) { return; }
          setTimeout(open, 2000);
        }
      });
      for (const [kind, handler] of Object.entries(handlers)) {
        source.addEventListener(kind, (event) => {
          if (event.lastEventId) lastId = Number(event.lastEventId);
          handler(JSON.parse(event.data), Number(event.lastEventId));
        });
      }
    }
    open();
    return { close: () => source && source.close() };
  };

  /* Page chrome: clock, logout, help overlay and the global shortcuts. */
  function tick() {
    const clock = document.getElementById("clock");
    if (clock) clock.textContent = clockFmt.format(A.now());
  }
  setInterval(tick, 10000);
  const logout = document.getElementById("logout-button");
  /* What the crew terminal keeps on the device for offline use (crew-sw.js): gone at
     sign-out and on the sign-in page. */
  A.forgetDevice = async function () {
    if (!window.caches) return;
    try {
      for (const name of await caches.keys()) if (name.startsWith("arverne-crew")) await caches.delete(name);
    } catch (e) { /* storage unavailable: nothing kept either */ }
  };
  if (logout) {
    logout.addEventListener("click", async () => {
      try { await A.api("POST", "/api/v1/auth/logout"); } catch (e) { /* already out */ }
      await A.forgetDevice();
      location.assign("/login");
    });
  }
  const help = document.getElementById("help-dialog");
  const helpButton = document.getElementById("help-button");
  A.toggleHelp = () => (help.open ? help.close() : help.showModal());
  if (helpButton) helpButton.addEventListener("click", A.toggleHelp);
  A.typing = (target) =>
    target instanceof HTMLElement &&
    (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  A.shortcuts = {};
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !help.open && A.shortcuts.Escape) { A.shortcuts.Escape(event); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || A.typing(event.target)) return;
    if (help.open && event.key !== "?") return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "?") { event.preventDefault(); A.toggleHelp(); return; }
    if (!data.user) return;
    if (key === "l" && A.can("dutylog:read")) location.assign("/console/log");
    else if (key === "d" && A.can("kpi:read")) location.assign("/console/dashboard");
    else if (A.shortcuts[key]) { event.preventDefault(); A.shortcuts[key](event); }
  });
})();
