/* Crew terminal (terminal embarqué): the unit the signed-in officer crews, on a phone or a
   tablet. Sign on to a unit, report its status, answer the status check, follow the
   incident it was sent to (place, description, history of the place, duty-log notes, and
   add one), report an event the crew came upon (intervention d'initiative), share the
   device's position as AVL, and raise a distress call (two presses). A new dispatch and a
   status check falling due sound (alarm.js) and vibrate.
   Everything goes through the API, where a crew acts for its own unit only; the page
   follows the event stream, so a dispatch or a supervisor's crew change shows at once.
   Without network, status changes, notes and positions wait in the outbox (outbox.js)
   and are shown as waiting; the panel shows them as made. */
"use strict";

(function () {
  const A = window.Arverne, D = A.data, el = A.el;
  const SEND_EVERY_MS = 15000;   // AVL: at most one report per 15 s...
  const SEND_METRES = 50;        // ...unless the crew moved more than this
  const FRESH_FIX_MS = 60000;    // a distress call uses the device's fix if this recent
  const FREE = new Set(["available", "at_station"]);  // may start an intervention

  const $ = (id) => document.getElementById(id);
  const unitBody = $("crew-unit-body"), incidentBox = $("crew-incident"), tools = $("crew-tools");
  const alertBox = $("crew-alert"), notesList = $("crew-notes");
  let me = null, base = null, unit = null, incident = null, notes = [], history = null, loaded = false;
  let fix = null, sent = null, watch = null, checkSounded = null;

  const outbox = A.Outbox(D.user, drawOutbox, (item, answer) => {
    if (item.kind === "status" && unit && answer.id === unit.id) applyUnit(answer);
    else if (item.kind === "note") addNote(answer);
  });
  const typeLabel = (code) => D.types[code] || code;
  A.typeLabel = typeLabel;  // the map's tooltips
  const say = (text) => { alertBox.textContent = text; alertBox.hidden = !text; };
  const buzz = (pattern) => { if (navigator.vibrate) navigator.vibrate(pattern); };

  /* --- State ---------------------------------------------------------------------- */
  async function loadMine() {
    me = await A.api("GET", "/api/v1/units/mine");
    await applyUnit(me.units[0] || null);
  }
  async function applyUnit(next) {
    const before = unit ? unit.current_incident_id : null;
    const fresh = loaded && next && next.current_incident_id && next.current_incident_id !== before;
    base = next;
    unit = asMade(next);
    const wanted = unit ? unit.current_incident_id : null;
    if ((incident ? incident.id : null) !== wanted) await loadIncident(wanted);
    if (fresh && incident) {
      say(A.t("crew.new_incident", { type: typeLabel(incident.type_code), place: place(incident) }));
      buzz([300, 150, 300]);
      A.tones.play("dispatch");
    }
    render();
  }
  async function loadIncident(id) {
    incident = null; notes = []; history = null;
    if (!id) return;
    const [inc, log, hist] = await Promise.all([
      A.api("GET", `/api/v1/incidents/${id}`),
      A.can("dutylog:read") ? A.api("GET", `/api/v1/dutylog?incident_id=${id}&limit=200`) : [],
      A.api("GET", `/api/v1/incidents/${id}/place-history?limit=5`).catch(() => null),
    ]);
    incident = inc; notes = log; history = hist;
  }
  /* The unit as the crew made it: the server's view with the status changes still waiting
     in the outbox on top, marked as waiting. */
  function asMade(view) {
    let shown = view;
    for (const item of outbox.pending("status")) {
      if (!shown || item.unitId !== shown.id) continue;
      shown = { ...shown, status: item.body.status, status_reason: item.body.reason || null,
        status_changed_at: item.at, allowed_next: D.transitions[item.body.status] || [], waiting: true };
    }
    return shown;
  }
  const place = (inc) => inc.address || inc.street || `${inc.lat.toFixed(5)}, ${inc.lon.toFixed(5)}`;
  /* A geo: link opens the phone's navigation app at the incident. */
  const navigation = (inc) => `geo:${inc.lat.toFixed(6)},${inc.lon.toFixed(6)}?q=${inc.lat.toFixed(6)},${inc.lon.toFixed(6)}(${encodeURIComponent(inc.number)})`;
  /* The other crews on the incident, and how far along they are. */
  function others() {
    const with_ = incident.assignments.filter((a) => !a.released_at && (!unit || a.unit_id !== unit.id));
    if (!with_.length) return null;
    const stage = (a) => A.t(a.arrived_at ? "status.on_scene" : a.en_route_at ? "status.en_route" : "status.dispatched");
    return el("p", { id: "crew-others", text: A.t("crew.others", { units: with_.map((a) => `${a.call_sign} (${stage(a).toLowerCase()})`).join(", ") }) });
  }

  /* --- Drawing -------------------------------------------------------------------- */
  /* The unit's part is rebuilt only when what it shows changes, so a live update never
     closes a form or drops what the officer was typing. */
  let drawn = null;
  function render() {
    $("crew-loading").hidden = true;
    tools.hidden = !unit;
    const key = JSON.stringify([me.officer, unit && [unit.id, unit.status, unit.status_reason,
      unit.crew, unit.allowed_next, !!unit.check_due_at, !!unit.waiting]]);
    if (key !== drawn) {
      drawn = key;
      if (!me.officer) {
        unitBody.replaceChildren(el("p", { id: "crew-unlinked", class: "crew-empty", text: A.t("crew.unlinked") }));
      } else if (!unit) {
        unitBody.replaceChildren(el("p", { class: "crew-empty", text: A.t("crew.no_unit", { name: me.officer.name }) }), signOnForm());
      } else {
        unitBody.replaceChildren(...unitView().filter(Boolean));
      }
    }
    renderIncident();
    tick();
  }
  function unitView() {
    return [
      el("p", { class: "crew-callsign" }, el("strong", { id: "crew-call-sign", text: unit.call_sign }),
        " · ", A.t("unit_type." + unit.unit_type)),
      el("p", { id: "crew-status", class: `crew-status st-${unit.status}` },
        el("span", { text: A.t("status." + unit.status) }), " ", el("span", { class: "crew-since" }),
        unit.waiting ? el("span", { class: "crew-waiting", id: "crew-status-waiting", text: A.t("crew.waiting") }) : null),
      el("p", { class: "muted", id: "crew-members", text: A.t("crew.members", { names: unit.crew.join(", ") || "—" }) }),
      el("div", { id: "crew-check", class: "crew-check", hidden: !unit.check_due_at },
        el("span", { id: "crew-check-text" }),
        el("button", { type: "button", class: "btn btn-primary crew-big", id: "crew-check-ok", onclick: answerCheck }, A.t("crew.check_ok"))),
      statusButtons(),
      FREE.has(unit.status) && A.can("incident:create") ? initiativeForm() : null,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "btn btn-ghost", id: "crew-sign-off", onclick: A.twoPress(signOff, A.t("crew.sign_off_confirm")) }, A.t("crew.sign_off"))),
    ];
  }
  function statusButtons() {
    const box = el("div", { class: "crew-status-buttons", role: "group", "aria-label": A.t("units.change_status", { unit: unit.call_sign }) });
    const extra = el("div", { class: "crew-extra" });
    for (const next of unit.allowed_next) {
      if (next === "dispatched") continue;
      box.append(el("button", { type: "button", class: `btn crew-big st-btn st-${next}`, dataset: { status: next },
        onclick: (event) => changeStatus(next, event.currentTarget, extra) }, A.t("status_action." + next)));
    }
    return el("div", {}, box, extra);
  }
  /* An event the crew comes upon: the incident is created with the unit on scene. */
  let initiative = null;  // built once: kept, with what was typed, across redraws
  function initiativeForm() {
    if (initiative) return initiative;
    const types = Object.entries(D.types).sort((a, b) => a[1].localeCompare(b[1], D.lang));
    const form = el("form", { id: "crew-initiative-form" },
      el("label", { for: "crew-initiative-type", text: A.t("crew.initiative_type") }),
      el("select", { id: "crew-initiative-type", required: true },
        el("option", { value: "", text: "—" }), types.map(([code, label]) => el("option", { value: code, text: label }))),
      el("label", { for: "crew-initiative-description", text: A.t("crew.initiative_description") }),
      el("textarea", { id: "crew-initiative-description", rows: "2", maxlength: "2000" }),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "btn btn-primary crew-big", id: "crew-initiative" }, A.t("crew.initiative_send"))));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { type_code: $("crew-initiative-type").value };
      const text = $("crew-initiative-description").value.trim();
      if (text) body.description = text;
      if (fix && Date.now() - fix.at < FRESH_FIX_MS) { body.lon = fix.lon; body.lat = fix.lat; }
      act(event.submitter, async () => {
        const inc = await A.api("POST", `/api/v1/units/${unit.id}/initiative`, body);
        A.toast(A.t("crew.initiative_done", { number: inc.number }), "ok");
        form.reset();
        initiative.open = false;
        await loadMine();
      });
    });
    initiative = el("details", { class: "crew-initiative" }, el("summary", { text: A.t("crew.initiative") }), form);
    return initiative;
  }
  function signOnForm() {
    const select = el("select", { id: "crew-sign-on-unit" });
    const form = el("form", { id: "crew-sign-on-form", class: "crew-sign-on" },
      el("label", { for: "crew-sign-on-unit", text: A.t("crew.sign_on_label") }), select,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "btn btn-primary crew-big", id: "crew-sign-on" }, A.t("crew.sign_on"))));
    A.api("GET", "/api/v1/units").then((units) => {
      select.replaceChildren(...units.map((u) => el("option", { value: u.id, text: `${u.call_sign} — ${A.t("status." + u.status)}` })));
    }).catch((e) => A.toast(e.message, "error"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await act(form.querySelector("button"), async () => {
        await applyUnit(await A.api("POST", `/api/v1/units/${select.value}/crew/me`));
        A.toast(A.t("crew.signed_on", { unit: unit.call_sign }), "ok");
      });
    });
    return form;
  }
  function renderIncident() {
    incidentBox.hidden = !unit;
    if (!unit) return;
    const body = $("crew-incident-body");
    $("crew-note-form") && ($("crew-note-form").hidden = !incident);
    if (!incident) {
      body.replaceChildren(el("p", { class: "crew-empty", id: "crew-no-incident", text: A.t("crew.no_incident") }));
      notesList.replaceChildren();
      return;
    }
    const line = history && A.placeHistoryLine ? A.placeHistoryLine(history) : null;
    body.replaceChildren(...[
      el("p", { class: "crew-inc-head" },
        el("span", { class: `prio prio-${incident.priority}`, text: `P${incident.priority}` }), " ",
        el("strong", { id: "crew-inc-type", text: typeLabel(incident.type_code) }), " ",
        el("span", { class: "muted", text: incident.number })),
      el("p", { class: "crew-place", id: "crew-inc-place", text: place(incident) }),
      el("p", {}, el("a", { id: "crew-navigate", class: "btn", href: navigation(incident) }, A.t("crew.navigate"))),
      incident.district ? el("p", { class: "muted", text: incident.district }) : null,
      incident.description ? el("p", { id: "crew-inc-description", text: incident.description }) : null,
      el("p", { class: "muted" }, A.t("crew.since_call"), " ", el("span", { id: "crew-inc-since" })),
      others(),
      line].filter(Boolean));
    drawMap();
    const waiting = outbox.pending("note").filter((i) => i.body.incident_id === incident.id);
    notesList.replaceChildren(...notes.slice(-12).map((n) => el("li", { dataset: { id: n.id } },
      el("span", { class: "time", text: A.time((n.data && n.data.reported_at) || n.at) }), " ", el("span", { text: n.text }))),
    ...waiting.map((i) => el("li", { class: "crew-note-waiting" },
      el("span", { class: "time", text: A.time(i.at) }), " ", el("span", { text: i.body.text }), " ",
      el("span", { class: "crew-waiting", text: A.t("crew.waiting") }))));
    tick();
  }

  /* The incident and the unit on a small map (built when first needed: Leaflet needs a
     visible box), framed to show both. */
  let map = null, mapTried = false, shownIncident = null, framed = null;
  function drawMap() {
    const box = $("map");
    box.hidden = !incident;
    if (!incident) return;
    if (!mapTried) { mapTried = true; map = A.makeMap(null); }
    if (!map) return;  // the front-end libraries are missing: the map box says so
    map.map.invalidateSize();
    if (shownIncident !== null && shownIncident !== incident.id) map.removeIncident(shownIncident);
    shownIncident = incident.id;
    map.upsertIncident(incident, () => {});
    if (unit) map.upsertUnit(unit);
    const key = `${incident.id}:${incident.lon}:${incident.lat}`;
    if (framed === key) return;
    framed = key;
    const points = [[incident.lat, incident.lon]];
    if (unit && unit.lat !== null && unit.lon !== null) points.push([unit.lat, unit.lon]);
    map.map.fitBounds(points, { padding: [30, 30], maxZoom: 17 });
  }

  /* Called every second: times only. */
  function tick() {
    if (unit) {
      const since = document.querySelector("#crew-status .crew-since");
      if (since) since.textContent = A.duration(A.since(unit.status_changed_at));
      const box = $("crew-check");
      if (box && unit.check_due_at) {
        const left = -A.since(unit.check_due_at);
        const state = unit.check_missed_at ? "missed" : left <= 0 ? "due" : "";
        const alarm = `${unit.id}:${unit.check_due_at}:${state}`;
        if (state && loaded && alarm !== checkSounded) { checkSounded = alarm; A.tones.play("check"); buzz([200, 100, 200]); }
        box.className = `crew-check${state ? " crew-check-" + state : ""}`;
        $("crew-check-text").textContent = state === "missed" ? A.t("crew.check_missed")
          : state === "due" ? A.t("crew.check_due", { time: A.duration(-left) })
            : A.t("crew.check_in", { time: A.duration(left) });
      }
    }
    const incSince = $("crew-inc-since");
    if (incSince && incident) incSince.textContent = A.duration(A.since(incident.first_call_at));
  }

  /* --- Actions -------------------------------------------------------------------- */
  async function act(button, work) {
    if (button) button.disabled = true;
    try { await work(); } catch (e) { A.toast(e.message, "error"); } finally { if (button) button.disabled = false; }
  }
  function changeStatus(next, button, extra) {
    const body = { status: next };
    if (next === "unavailable") {
      const reason = $("crew-reason");
      if (!reason) {
        extra.replaceChildren(el("label", { for: "crew-reason", text: A.t("units.reason") }),
          el("select", { id: "crew-reason" }, D.reasons.map((r) => el("option", { value: r, text: A.t("reason." + r) }))));
        return;
      }
      body.reason = reason.value;
    }
    if (next === "transporting") {
      const where = $("crew-destination");
      if (!where) {
        extra.replaceChildren(el("label", { for: "crew-destination", text: A.t("units.destination") }),
          el("input", { id: "crew-destination", maxlength: "200", placeholder: A.t("units.destination_hint"), autocomplete: "off" }));
        $("crew-destination").focus();
        return;
      }
      if (!where.value.trim()) { where.focus(); A.toast(A.t("units.destination_required"), "error"); return; }
      body.destination = where.value.trim();
    }
    act(button, async () => {
      const label = A.t("status." + next);
      const out = await outbox.send({ kind: "status", unitId: unit.id, method: "POST", url: `/api/v1/units/${unit.id}/status`, body, label });
      if (!out) A.toast(A.t("crew.queued", { what: label }), "warn");
      await applyUnit(out || base);
    });
  }
  /* Not queued: a late "all is well" would mislead the control room. */
  function answerCheck(event) {
    act(event.currentTarget, async () => {
      try {
        await applyUnit(await A.api("POST", `/api/v1/units/${unit.id}/check`, { outcome: "ok" }));
      } catch (e) {
        throw offline(e) ? new Error(A.t("crew.check_offline")) : e;
      }
      A.toast(A.t("crew.check_sent"), "ok");
    });
  }
  const offline = (e) => e instanceof A.ApiError && e.status === 0;
  function signOff(button) {
    act(button, async () => {
      const call = unit.call_sign;
      await A.api("DELETE", `/api/v1/units/${unit.id}/crew/me`);
      await loadMine();
      A.toast(A.t("crew.signed_off", { unit: call }), "ok");
    });
  }
  function raiseDistress(button) {
    const body = {};
    if (fix && Date.now() - fix.at < FRESH_FIX_MS) { body.lon = fix.lon; body.lat = fix.lat; }
    act(button, async () => {
      let out;
      try {
        out = await A.api("POST", `/api/v1/units/${unit.id}/distress`, body);
      } catch (e) {
        if (!offline(e)) throw e;
        say(A.t("crew.distress_offline"));  /* never queued: it must not arrive late */
        buzz([1000]);
        return;
      }
      say(A.t("crew.distress_sent", { number: out.incident.number }));
      buzz([500, 200, 500, 200, 500]);
    });
  }
  async function sendNote(event) {
    event.preventDefault();
    const text = $("crew-note");
    if (!text.value.trim() || !incident) return;
    await act(event.submitter, async () => {
      const body = { text: text.value.trim(), incident_id: incident.id, unit_id: unit.id };
      const entry = await outbox.send({ kind: "note", method: "POST", url: "/api/v1/dutylog", body, label: A.t("crew.note") });
      text.value = "";
      if (entry) addNote(entry);
      else { A.toast(A.t("crew.queued", { what: A.t("crew.note") }), "warn"); renderIncident(); }
    });
  }
  function addNote(entry) {
    if (notes.some((n) => n.id === entry.id)) return;
    notes.push(entry);
    renderIncident();
  }

  /* --- Position (AVL) from the device ------------------------------------------- */
  async function onFix(position) {
    fix = { lon: position.coords.longitude, lat: position.coords.latitude, at: Date.now() };
    if (!unit || (sent && Date.now() - sent.at < SEND_EVERY_MS && A.metres(sent, fix) < SEND_METRES)) return;
    const body = { lon: fix.lon, lat: fix.lat, at: A.deviceTime(position.timestamp || Date.now()).toISOString() };
    if (Number.isFinite(position.coords.speed)) body.speed_mps = position.coords.speed;
    if (Number.isFinite(position.coords.heading)) body.heading_deg = position.coords.heading;
    sent = { ...fix };
    try {
      const out = await outbox.send({ kind: "position", method: "POST", url: `/api/v1/units/${unit.id}/positions`, body, label: A.t("crew.position"), quiet: true });
      $("crew-share-status").textContent = A.t(out ? "crew.share_sent" : "crew.share_kept", { time: A.time(A.now().toISOString()) });
    } catch (e) {
      sent = null;
      $("crew-share-status").textContent = e.message;
    }
  }
  function share(on) {
    localStorage.setItem("arverne.crew.share", on ? "1" : "");
    if (watch !== null) { navigator.geolocation.clearWatch(watch); watch = null; }
    $("crew-share-status").textContent = "";
    if (!on) return;
    if (!navigator.geolocation) { $("crew-share-status").textContent = A.t("crew.share_unsupported"); return; }
    watch = navigator.geolocation.watchPosition(onFix,
      (error) => { $("crew-share-status").textContent = A.t(error.code === 1 ? "crew.share_denied" : "crew.share_failed"); },
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
  }

  /* --- Outbox ---------------------------------------------------------------------- */
  let waited = 0, refused = 0;
  function drawOutbox(state) {
    const box = $("crew-outbox");
    const count = state.items.length;
    const parts = [];
    if (count) parts.push(el("p", { id: "crew-outbox-waiting", text: A.t("crew.outbox_waiting", { count }) }));
    if (state.failed.length) {
      parts.push(el("p", { class: "crew-outbox-failed-title", text: A.t("crew.outbox_failed") }),
        el("ul", { id: "crew-outbox-failed" }, state.failed.map((f) => el("li", {},
          el("strong", { text: `${f.label} (${A.time(f.at)})` }), " — ", f.error))),
        el("button", { type: "button", class: "btn", id: "crew-outbox-dismiss", onclick: () => outbox.dismiss() }, A.t("crew.outbox_dismiss")));
    }
    box.replaceChildren(...parts);
    box.hidden = !parts.length;
    box.className = `crew-outbox${state.failed.length ? " crew-outbox-alert" : ""}`;
    if (waited && !count && !state.failed.length) A.toast(A.t("crew.outbox_sent"), "ok");
    if (state.failed.length > refused) buzz([300, 100, 300]);
    waited = count; refused = state.failed.length;
    if (loaded) applyUnit(base);
  }
  window.addEventListener("online", () => outbox.flush());

  /* --- Wiring ---------------------------------------------------------------------- */
  $("crew-distress").addEventListener("click", A.twoPress(raiseDistress, A.t("crew.distress_confirm")));
  if ($("crew-note-form")) $("crew-note-form").addEventListener("submit", sendNote);
  const shareBox = $("crew-share-position");
  shareBox.checked = localStorage.getItem("arverne.crew.share") === "1";
  shareBox.addEventListener("change", () => share(shareBox.checked));
  alertBox.addEventListener("click", () => say(""));
  A.tones.bindToggle($("sound-toggle"));

  A.live(D.last_event_id, {
    "unit.updated": (u) => {
      if (!me) return;
      const mine = me.officer && u.crew.includes(me.officer.name);
      if (unit && u.id === unit.id && mine) applyUnit(u);
      else if (mine || (unit && u.id === unit.id)) loadMine();  // joined or left a crew
    },
    "incident.updated": (inc) => { if (incident && inc.id === incident.id) { incident = inc; renderIncident(); } },
    "unit.position": (p) => {
      if (!unit || p.unit_id !== unit.id) return;
      unit.lon = p.lon; unit.lat = p.lat;
      if (map) map.moveUnit(p.unit_id, p.lon, p.lat);
    },
    "log.appended": (entry) => { if (incident && entry.incident_id === incident.id) addNote(entry); },
  }, () => outbox.flush().then(loadMine));

  /* Kept on the device for a reload without network (crew-sw.js). */
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/console/crew-sw.js", { scope: "/console/crew" }).catch(() => {});

  loadMine().then(() => {
    loaded = true;
    drawOutbox(outbox.state);
    outbox.flush();
    if (shareBox.checked) share(true);
    setInterval(tick, 1000);
    document.body.dataset.ready = "1";
  }).catch((e) => A.toast(e.message, "error"));
})();
