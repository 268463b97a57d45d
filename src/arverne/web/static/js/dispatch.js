/* Dispatch screen: incident queue, unit board and map kept live from the event stream. */
"use strict";

(function () {
  const A = window.Arverne;
  const D = A.data;
  const OPEN = new Set(["queued", "dispatched", "en_route", "on_scene"]);
  const BOARD_ORDER = ["available", "at_station", "dispatched", "en_route", "on_scene",
    "transporting", "unavailable", "off_duty"];
  const incidents = new Map(D.incidents.map((i) => [i.id, i]));
  const units = new Map(D.units.map((u) => [u.id, u]));
  const types = new Map(D.types.map((t) => [t.code, t]));
  const S = (A.dispatch = { incidents: incidents, units: units, types: types, selected: null });
  A.metrics = [];

  A.typeLabel = (code) => {
    const type = types.get(code);
    return type ? type[`label_${D.lang}`] || type.label_fr : code;
  };
  A.incidentPlace = (inc) =>
    inc.address || [inc.street, inc.district].filter(Boolean).join(", ") ||
    `${inc.lat.toFixed(4)}, ${inc.lon.toFixed(4)}`;

  const queue = document.getElementById("queue");
  const board = document.getElementById("unit-board");
  const rows = new Map();
  const unitRows = new Map();

  function queueOrder(a, b) {
    return a.priority - b.priority || Date.parse(a.first_call_at) - Date.parse(b.first_call_at);
  }
  function risk(inc) {
    if (inc.first_arrival_at) return "";
    const ratio = A.since(inc.first_call_at) / inc.target_s;
    return ratio >= 1 ? "breached" : ratio >= 0.75 ? "at-risk" : "";
  }
  function timerText(inc) {
    const waited = A.duration(A.since(inc.first_call_at));
    return inc.first_arrival_at ? A.t("queue.arrived_after", { time: A.duration(
      (Date.parse(inc.first_arrival_at) - Date.parse(inc.first_call_at)) / 1000) }) : waited;
  }
  function incidentRow(inc) {
    const assigned = inc.assignments.filter((a) => !a.released_at).map((a) => a.call_sign);
    const timer = A.el("span", { class: "timer", text: timerText(inc) });
    const button = A.el("button", {
      type: "button", class: "inc-row", dataset: { id: inc.id },
      "aria-label": `P${inc.priority} ${A.typeLabel(inc.type_code)}, ${A.incidentPlace(inc)}, ${A.t("incident.status." + inc.status)}`,
      onclick: () => S.select(inc.id),
    },
    A.el("span", { class: `prio prio-${inc.priority}`, text: `P${inc.priority}` }),
    A.el("span", { class: "inc-main" },
      A.el("span", { class: "inc-type", text: A.typeLabel(inc.type_code) }),
      A.el("span", { class: "inc-place", text: A.incidentPlace(inc) })),
    A.el("span", { class: "inc-side" },
      timer,
      A.el("span", { class: `inc-status status-${inc.status}`, text: A.t("incident.status." + inc.status) }),
      assigned.length ? A.el("span", { class: "inc-units", text: assigned.join(" ") }) : null));
    const flag = inc.type_code === "officer_distress" ? " distress" : inc.type_code === "to_qualify" ? " to-qualify" : "";
    const li = A.el("li", { class: "inc " + risk(inc) + flag, dataset: { id: inc.id } }, button);
    li._timer = timer;
    li._version = JSON.stringify([inc.status, inc.priority, inc.type_code, assigned, inc.first_arrival_at, D.lang]);
    return li;
  }
  function unitTimer(unit) {
    return S.checks.label(unit, true) || A.duration(A.since(unit.status_changed_at));
  }
  function unitRow(unit) {
    const incident = unit.current_incident_id ? incidents.get(unit.current_incident_id) : null;
    const check = S.checks.level(unit);
    const li = A.el("li", { class: "unit" + (check ? ` check-${check}` : ""), dataset: { id: unit.id, status: unit.status } },
      A.el("button", {
        type: "button", class: "unit-row", "aria-expanded": "false",
        "aria-label": `${unit.call_sign}, ${A.t("unit_type." + unit.unit_type)}, ${A.t("status." + unit.status)}` +
          (check ? `, ${A.t("checks.aria_" + check)}` : ""),
        onclick: (event) => S.toggleUnitActions(unit.id, event.currentTarget),
      },
      A.el("span", { class: `sq st-${unit.status}`, "aria-hidden": "true" }),
      A.el("span", { class: "call-sign", text: unit.call_sign }),
      A.el("span", { class: "unit-type", text: A.t("unit_type." + unit.unit_type) }),
      A.el("span", { class: "unit-inc", text: incident ? incident.number.slice(-6) : (unit.status_reason ? A.t("reason." + unit.status_reason) : "") }),
      A.el("span", { class: "timer", text: unitTimer(unit) })));
    li._version = JSON.stringify([unit.status, unit.status_reason, unit.current_incident_id,
      unit.check_due_at, unit.check_missed_at, D.lang]);
    return li;
  }

  let pending = false;
  S.render = function () {
    if (pending) return;
    pending = true;
    setTimeout(renderNow, 0);
  };
  function renderNow() {
    pending = false;
    const open = [...incidents.values()].filter((i) => OPEN.has(i.status)).sort(queueOrder);
    const keep = new Set();
    for (const inc of open) {
      let row = rows.get(inc.id);
      const fresh = incidentRow(inc);
      if (!row || row._version !== fresh._version) {
        if (row) row.replaceWith(fresh);
        row = fresh;
        rows.set(inc.id, row);
      }
      row.classList.toggle("selected", S.selected === inc.id);
      keep.add(inc.id);
      queue.append(row);
    }
    for (const [id, row] of rows) if (!keep.has(id)) { row.remove(); rows.delete(id); }
    document.getElementById("queue-count").textContent = String(open.length);
    document.getElementById("queue-empty").hidden = open.length > 0;
    renderBoard();
    S.checks.refresh();
    S.distress.refresh();
    S.alarm.refresh();
    if (!document.body.dataset.ready) performance.mark("arverne-ready");
    document.body.dataset.ready = "1";
  }
  function renderBoard() {
    const groups = new Map(BOARD_ORDER.map((s) => [s, []]));
    for (const unit of units.values()) (groups.get(unit.status) || groups.get("off_duty")).push(unit);
    let shown = 0;
    for (const status of BOARD_ORDER) {
      let section = board.querySelector(`section[data-status="${status}"]`);
      if (!section) {
        const head = [A.el("span", { class: `sq st-${status}`, "aria-hidden": "true" }),
          A.el("span", { class: "label", text: A.t("status." + status) }), A.el("span", { class: "count" })];
        /* Off-duty units (often most of the fleet) are folded away until asked for. */
        const folded = status === "off_duty";
        section = A.el("section", { class: `unit-group${folded ? " collapsed" : ""}`, dataset: { status: status }, "aria-labelledby": `ug-${status}` },
          A.el("h3", { id: `ug-${status}` }, folded ? A.el("button", {
            type: "button", class: "group-toggle", "aria-expanded": "false",
            onclick: (event) => {
              const open = section.classList.toggle("collapsed") === false;
              event.currentTarget.setAttribute("aria-expanded", String(open));
            },
          }, head) : head),
          A.el("ul", { class: "unit-list" }));
        board.append(section);
      }
      const list = section.querySelector("ul");
      const members = groups.get(status).sort((a, b) => a.call_sign.localeCompare(b.call_sign));
      for (const unit of members) {
        let row = unitRows.get(unit.id);
        const fresh = unitRow(unit);
        if (!row || row._version !== fresh._version) {
          if (row) row.remove();
          row = fresh;
          unitRows.set(unit.id, row);
        }
        list.append(row);
      }
      section.querySelector(".count").textContent = String(members.length);
      section.hidden = members.length === 0;
      if (status !== "off_duty") shown += members.length;
    }
    document.getElementById("units-count").textContent = String(shown);
  }

  /* Running timers: only the text of the timer cells changes every second. */
  setInterval(() => {
    for (const [id, row] of rows) {
      const inc = incidents.get(id);
      if (!inc) continue;
      row._timer.textContent = timerText(inc);
      const level = risk(inc);
      row.classList.toggle("at-risk", level === "at-risk");
      row.classList.toggle("breached", level === "breached");
    }
    for (const [id, row] of unitRows) {
      const unit = units.get(id);
      const timer = unit && row.querySelector(".timer");
      if (!timer) continue;
      timer.textContent = unitTimer(unit);
      const check = S.checks.level(unit);
      row.classList.toggle("check-due", check === "due");
      row.classList.toggle("check-missed", check === "missed");
    }
    S.checks.refresh();
    S.alarm.refresh();
  }, 1000);

  /* Unit actions: status buttons under the unit's row. */
  S.statusButtons = function (unit, onDone) {
    const box = A.el("div", { class: "status-buttons", role: "group", "aria-label": A.t("units.change_status", { unit: unit.call_sign }) });
    for (const next of unit.allowed_next) {
      if (next === "dispatched") continue;
      box.append(A.el("button", {
        type: "button", class: `btn btn-small st-btn st-${next}`, dataset: { status: next },
        onclick: async (event) => {
          const body = { status: next };
          if (next === "unavailable") {
            const reason = box.querySelector("select");
            if (!reason) {
              box.append(A.el("label", { class: "sr-only", for: `reason-${unit.id}`, text: A.t("units.reason") }),
                A.el("select", { id: `reason-${unit.id}` }, D.reasons.map((r) => A.el("option", { value: r, text: A.t("reason." + r) }))));
              return;
            }
            body.reason = reason.value;
          }
          if (next === "transporting") {  // first click asks where to, the second sends
            const where = box.querySelector(`#dest-${unit.id}`);
            if (!where) {
              const input = A.el("input", { id: `dest-${unit.id}`, class: "dest-input", maxlength: "200",
                placeholder: A.t("units.destination_hint"), autocomplete: "off" });
              box.append(A.el("label", { class: "sr-only", for: `dest-${unit.id}`, text: A.t("units.destination") }), input);
              input.focus();
              return;
            }
            if (!where.value.trim()) { where.focus(); A.toast(A.t("units.destination_required"), "error"); return; }
            body.destination = where.value.trim();
          }
          const button = event.currentTarget;  // null once the handler awaits
          button.disabled = true;
          try {
            S.upsertUnit(await A.api("POST", `/api/v1/units/${unit.id}/status`, body));
            if (onDone) onDone();
          } catch (e) {
            A.toast(e.message, "error");
            button.disabled = false;
          }
        },
      }, A.t("status_action." + next)));
    }
    for (const extra of [S.checks.buttons(unit), S.distress.button(unit)]) if (extra) box.append(extra);
    return box;
  };
  S.toggleUnitActions = function (id, button) {
    const row = unitRows.get(id);
    const open = row.querySelector(".status-buttons");
    if (open) { open.remove(); button.setAttribute("aria-expanded", "false"); return; }
    if (!A.can("unit:status_any")) return;
    button.setAttribute("aria-expanded", "true");
    row.append(S.statusButtons(units.get(id)));
  };

  /* State changes, from our own answers and from the stream (same objects, so idempotent). */
  S.upsertIncident = function (inc) {
    S.alarm.arrived(inc);
    incidents.set(inc.id, inc);
    if (OPEN.has(inc.status)) S.map && S.map.upsertIncident(inc, S.select);
    else S.map && S.map.removeIncident(inc.id);
    S.render();
    if (S.selected === inc.id && S.detail) S.detail.refresh(inc);
  };
  S.upsertUnit = function (unit) {
    units.set(unit.id, unit);
    S.map && S.map.upsertUnit(unit);
    S.render();
    if (S.detail) S.detail.unitChanged(unit);
  };
  S.select = function (id) {
    S.selected = id;
    S.render();
    const inc = incidents.get(id);
    if (inc && S.detail) S.detail.open(inc);
    if (inc && S.map) S.map.focus(inc.lon, inc.lat, inc.id);
  };

  /* The side panel holds either the new-incident form or an incident's detail. */
  const panel = document.getElementById("side-panel");
  S.openPanel = function (title, which) {
    document.getElementById("side-title").textContent = title;
    const form = document.getElementById("incident-form");
    if (form) form.hidden = which !== "form";
    document.getElementById("incident-detail").hidden = which !== "detail";
    panel.hidden = false;
    panel.dataset.mode = which;
  };
  S.closePanel = function () {
    if (panel.hidden) return;
    panel.hidden = true;
    if (panel.dataset.mode === "form" && S.form) S.form.reset();
    if (panel.dataset.mode === "detail") { S.selected = null; S.render(); if (S.map) S.map.clearFocus(); }
    panel.dataset.mode = "";
    const first = rowsInOrder()[0];
    if (first) first.focus();
  };
  document.getElementById("side-close").addEventListener("click", () => S.closePanel());
  S.checks = A.makeUnitChecks(S);
  S.distress = A.makeDistress(S);
  S.alarm = A.makeAlarm(S);
  S.detail = A.makeIncidentDetail(S);
  S.form = A.can("incident:create") ? A.makeIncidentForm(S) : null;

  S.map = A.makeMap((lon, lat) => S.form && S.form.place(lon, lat));
  for (const inc of incidents.values()) S.map && S.map.upsertIncident(inc, S.select);
  for (const unit of units.values()) S.map && S.map.upsertUnit(unit);
  renderNow();

  function record(kind, id) {
    if (A.metrics.length < 10000) A.metrics.push({ kind: kind, id: id, at: Date.now() });
  }
  async function resync() {
    const [open, board] = await Promise.all([
      A.api("GET", "/api/v1/incidents?status=open&limit=2000"),
      A.can("unit:read") ? A.api("GET", "/api/v1/units") : Promise.resolve([]),
    ]);
    const openIds = new Set(open.map((i) => i.id));
    for (const inc of incidents.values()) if (!openIds.has(inc.id) && OPEN.has(inc.status)) incidents.delete(inc.id), S.map && S.map.removeIncident(inc.id);
    open.forEach(S.upsertIncident);
    board.forEach(S.upsertUnit);
  }
  A.live(D.last_event_id, {
    "incident.created": (inc) => { S.upsertIncident(inc); record("incident", inc.id); },
    "incident.updated": (inc) => { S.upsertIncident(inc); record("incident", inc.id); },
    "unit.updated": (unit) => { S.upsertUnit(unit); record("unit", unit.id); },
    "unit.position": (p) => {
      const unit = units.get(p.unit_id);
      if (unit) { unit.lon = p.lon; unit.lat = p.lat; S.map && S.map.moveUnit(p.unit_id, p.lon, p.lat); }
    },
    "log.appended": (entry) => S.detail && S.detail.logAppended(entry),
  }, resync);

  /* Shortcuts (see the help overlay). */
  const rowsInOrder = () => [...queue.querySelectorAll(".inc-row")];
  function step(delta) {
    const list = rowsInOrder();
    if (!list.length) return;
    const at = list.indexOf(document.activeElement);
    const next = list[Math.max(0, Math.min(list.length - 1, at < 0 ? 0 : at + delta))];
    next.focus();
  }
  A.shortcuts.q = () => { const first = rowsInOrder()[0]; (first || queue).focus(); };
  A.shortcuts.u = () => { const first = board.querySelector(".unit-row"); if (first) first.focus(); };
  A.shortcuts.j = () => step(1);
  A.shortcuts.k = () => step(-1);
  A.shortcuts.Escape = () => S.closePanel && S.closePanel();
})();
