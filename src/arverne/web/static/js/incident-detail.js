/* Incident detail: summary, premise history (incident-history.js), correction of type,
   priority, description or address, or reopening once closed
   (incident-edit.js), units with status buttons, recommend -> assign, close or cancel,
   linked incidents (incident-links.js), merge into another incident (same event), split
   another event out (incident-split.js), calls, timeline from the duty log, and notes. */
"use strict";

(function () {
  const A = window.Arverne;
  const el = (...args) => A.el(...args);

  A.makeIncidentDetail = function (S) {
    const D = A.data;
    const root = document.getElementById("incident-detail");
    let inc = null, candidates = [], method = null, plan = null, busy = false;
    const part = {};
    for (const name of ["summary", "history", "edit", "units", "links", "rec", "close", "merge", "split", "calls", "timeline", "note"]) {
      part[name] = el("section", { class: `d-${name}`, id: `d-${name}` });
    }
    root.append(...Object.values(part));
    const links = A.makeIncidentLinks(S, part.links);
    const placeHistory = A.makePlaceHistory(S, part.history);
    const isOpen = () => inc && ["queued", "dispatched", "en_route", "on_scene"].includes(inc.status);

    function summary() {
      part.summary.replaceChildren(
        el("p", { class: "d-line" },
          el("span", { class: `prio prio-${inc.priority}`, text: `P${inc.priority}` }),
          el("strong", { text: A.typeLabel(inc.type_code) }),
          el("span", { class: `inc-status status-${inc.status}`, id: "d-status", text: A.t("incident.status." + inc.status) }),
          el("a", { class: "d-print", id: "d-print", href: `/console/incidents/${inc.id}/print`, target: "_blank", rel: "noopener", text: A.t("print.link") })),
        el("dl", { class: "facts" },
          el("dt", { text: A.t("detail.place") }), el("dd", { id: "d-place", text: A.incidentPlace(inc) }),
          inc.address && inc.street && !inc.address.includes(inc.street)
            ? [el("dt", { text: A.t("detail.street") }), el("dd", { id: "d-street", text: inc.street })] : null,
          inc.district ? [el("dt", { text: A.t("detail.district") }), el("dd", { id: "d-district", text: inc.district })] : null,
          el("dt", { text: A.t("detail.first_call") }), el("dd", { text: A.time(inc.first_call_at) }),
          el("dt", { text: A.t("detail.target") }), el("dd", { text: A.duration(inc.target_s) }),
          inc.first_arrival_at ? [el("dt", { text: A.t("detail.arrival") }), el("dd", { text: A.time(inc.first_arrival_at) })] : null,
          inc.closed_at ? [el("dt", { text: A.t("detail.closed") }), el("dd", { text: `${A.time(inc.closed_at)} · ${A.t("disposition." + inc.disposition)}` })] : null,
          (inc.offence_codes || []).length ? [el("dt", { text: A.t("detail.offences") }), el("dd", { id: "d-offence-codes", text: inc.offence_codes.join(", ") })] : null,
          inc.description ? [el("dt", { text: A.t("detail.description") }), el("dd", { text: inc.description })] : null));
    }
    function unitsPart() {
      const active = inc.assignments.filter((a) => !a.released_at);
      part.units.replaceChildren(el("h3", { text: A.t("detail.units") }));
      if (!active.length) part.units.append(el("p", { class: "muted", text: A.t("detail.no_units") }));
      const list = el("ul", { class: "assigned" });
      for (const a of active) {
        const unit = S.units.get(a.unit_id);
        const li = el("li", { class: "assigned-unit", dataset: { unit: a.unit_id } },
          el("span", { class: "call-sign", text: a.call_sign }),
          unit ? el("span", { class: `unit-status st-text-${unit.status}`, text: A.t("status." + unit.status) }) : null,
          a.eta_s !== null ? el("span", { class: "eta", text: A.t("detail.eta", { eta: A.duration(a.eta_s) }) }) : null);
        if (unit && A.can("unit:status_any") && unit.current_incident_id === inc.id) li.append(S.statusButtons(unit));
        list.append(li);
      }
      part.units.append(list);
    }
    function recPart() {
      part.rec.replaceChildren();
      if (!isOpen() || !A.can("incident:dispatch")) return;
      part.rec.append(el("div", { class: "d-head" }, el("h3", { text: A.t("rec.title") }),
        el("button", { type: "button", class: "btn", id: "recommend", "aria-keyshortcuts": "R", onclick: recommend },
          A.t("rec.button"), " ", el("kbd", { text: "R" }))));
      if (!candidates.length) return;
      const table = el("table", { class: "rec-table" },
        el("caption", { class: "sr-only", text: A.t("rec.title") }),
        el("thead", {}, el("tr", {}, ["rec.unit", "rec.eta", "rec.distance", "rec.why", "rec.action"].map(
          (k) => el("th", { scope: "col", text: A.t(k) })))));
      const body = el("tbody");
      candidates.forEach((c, i) => body.append(el("tr", { dataset: { unit: c.unit_id } },
        el("td", {}, el("span", { class: "call-sign", text: c.call_sign }), el("br"),
          el("span", { class: "muted", text: A.t("unit_type." + c.unit_type) })),
        el("td", { class: "eta", text: A.duration(c.eta_s) }),
        el("td", { text: `${(c.distance_m / 1000).toFixed(1)} km` }),
        el("td", { class: "why", text: c.why }),
        el("td", {}, el("button", { type: "button", class: `btn btn-small ${i === 0 ? "btn-primary" : ""}`,
          dataset: { assign: c.unit_id }, onclick: () => assign(c),
          "aria-label": A.t("rec.assign_unit", { unit: c.call_sign }) }, A.t("rec.assign"), i === 0 ? [" ", el("kbd", { text: "A" })] : null)))));
      table.append(body);
      part.rec.append(planLine(), table);
      if (method) part.rec.append(el("p", { class: "muted rec-method", id: "rec-method", dataset: { method: method }, text: A.t("rec.method_" + method) }));
    }
    async function recommend() {
      if (!inc || !isOpen()) return;
      const button = document.getElementById("recommend");
      if (button) button.disabled = true;
      try {
        const out = await A.api("GET", `/api/v1/incidents/${inc.id}/recommendations?limit=6`);
        candidates = out.candidates;
        method = out.method || null;
        plan = out.plan || null;
        recPart();
        if (!candidates.length) part.rec.append(el("p", { class: "muted", role: "status", text: A.t("rec.none") }));
        const first = part.rec.querySelector("[data-assign]");
        if (first) first.focus();
      } catch (e) {
        A.toast(e.message, "error");
        if (button) button.disabled = false;
      }
    }
    /* The response plan: how many units the type calls for, and one click for the
       nearest free ones that complete it (the dispatcher may still pick others). */
    function planLine() {
      if (!plan || (plan.units < 2 && !plan.missing)) return "";
      const text = A.t("rec.plan", { units: plan.units, assigned: plan.assigned }) +
        (plan.missing ? " " + A.t("rec.plan_missing", { missing: plan.missing }) : "");
      const line = el("p", { class: "rec-plan", id: "rec-plan" }, el("span", { text: text }));
      if (plan.proposed.length > 1) {
        const units = plan.proposed.map((id, i) => ({ unit_id: id, call_sign: plan.proposed_call_signs[i] }));
        line.append(" ", el("button", { type: "button", class: "btn btn-small btn-primary", dataset: { plan: "1" },
          "aria-keyshortcuts": "P", onclick: () => assign(...units) },
          A.t("rec.plan_assign", { units: plan.proposed_call_signs.join(" + ") }), " ", el("kbd", { text: "P" })));
      }
      return line;
    }
    async function assign(...chosen) {
      if (busy || !inc) return;  /* one assignment at a time: a double click assigns once */
      busy = true;
      for (const b of part.rec.querySelectorAll("button")) b.disabled = true;
      const c = chosen[0];
      const body = { unit_ids: chosen.map((u) => u.unit_id) };
      if (c.committed_to) Object.assign(body, inc.priority === 1 && c.preemptable
        ? { preempt: true, reason: A.t("rec.preempt_reason") } : { reassign: true, reason: A.t("rec.reassign_reason") });
      try {
        const out = await A.api("POST", `/api/v1/incidents/${inc.id}/dispatch`, body);
        candidates = [];
        plan = null;
        A.toast(A.t("rec.assigned", { unit: chosen.map((u) => u.call_sign).join(" + "), number: out.number }), "ok");
        S.upsertIncident(out);
        for (const u of chosen) A.api("GET", `/api/v1/units/${u.unit_id}`).then(S.upsertUnit).catch(() => {});
      } catch (e) {
        A.toast(e.message, "error");
        recPart();
      } finally {
        busy = false;
      }
    }
    function closePart() {
      part.close.replaceChildren();
      if (!isOpen() || !A.can("incident:close")) return;
      const select = el("select", { id: "d-disposition", required: true, "aria-describedby": "err-c-disposition" },
        el("option", { value: "", text: A.t("close.choose") }),
        D.dispositions.map((d) => el("option", { value: d, text: A.t("disposition." + d) })));
      const offences = A.makeOffencePicker(inc.first_call_at);
      const form = el("form", { id: "close-form", class: "close-form", novalidate: true },
        el("h3", { text: A.t("close.title") }),
        el("label", { for: "d-disposition", text: A.t("close.disposition") }), select,
        el("p", { class: "field-error", id: "err-c-disposition" }),
        offences.nodes,
        el("label", { for: "d-close-note", text: A.t("close.note") }),
        el("textarea", { id: "d-close-note", rows: "2" }),
        el("p", { class: "form-error", role: "alert" }),
        el("div", { class: "actions" },
          el("button", { type: "submit", class: "btn btn-primary", id: "close-submit", text: A.t("close.submit") }),
          el("button", { type: "button", class: "btn btn-danger", id: "cancel-incident", text: A.t("close.cancel"), onclick: cancelIncident })));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const button = form.querySelector("#close-submit");
        if (button.disabled) return;
        const body = { disposition: select.value, offence_codes: offences.codes() };
        const note = form.querySelector("#d-close-note").value.trim();
        if (note) body.note = note;
        if (!select.value) {
          A.showErrors(form, { errors: [{ field: "disposition", message: A.t("close.required") }] }, "err-c-");
          select.focus();
          return;
        }
        button.disabled = true;
        try {
          S.upsertIncident(await A.api("POST", `/api/v1/incidents/${inc.id}/close`, body));
          A.toast(A.t("close.done", { number: inc.number }), "ok");
        } catch (err) { A.showErrors(form, err, "err-c-"); button.disabled = false; }
      });
      part.close.append(form);
    }
    async function cancelIncident() {
      const reason = part.close.querySelector("#d-close-note").value.trim();
      if (!reason) {
        A.showErrors(part.close.querySelector("form"), { errors: [{ field: "disposition", message: A.t("close.cancel_reason") }] }, "err-c-");
        part.close.querySelector("#d-close-note").focus();
        return;
      }
      try { S.upsertIncident(await A.api("POST", `/api/v1/incidents/${inc.id}/cancel`, { reason: reason })); }
      catch (err) { A.showErrors(part.close.querySelector("form"), err, "err-c-"); }
    }
    function mergePart() {
      part.merge.replaceChildren();
      if (!isOpen() || !A.can("incident:close")) return;
      const others = [...S.incidents.values()]
        .filter((o) => o.id !== inc.id && ["queued", "dispatched", "en_route", "on_scene"].includes(o.status))
        .map((o) => [A.metres(inc, o), o]).sort((a, b) => a[0] - b[0]).slice(0, 30);
      if (!others.length) return;
      const select = el("select", { id: "d-merge-into", "aria-describedby": "err-m-into" },
        el("option", { value: "", text: A.t("merge.choose") }),
        others.map(([d, o]) => el("option", { value: o.id,
          text: `${o.number} · ${A.typeLabel(o.type_code)} · ${A.incidentPlace(o)} · ${Math.round(d)} m` })));
      const reason = el("input", { id: "d-merge-reason", autocomplete: "off", maxlength: "500", "aria-describedby": "err-m-reason" });
      const form = el("form", { id: "merge-form", class: "merge-form", novalidate: true },
        el("h3", { text: A.t("merge.title") }),
        el("p", { class: "muted", text: A.t("merge.help", { number: inc.number }) }),
        el("label", { for: "d-merge-into", text: A.t("merge.into") }), select,
        el("p", { class: "field-error", id: "err-m-into" }),
        el("label", { for: "d-merge-reason", text: A.t("merge.reason") }), reason,
        el("p", { class: "field-error", id: "err-m-reason" }),
        el("p", { class: "form-error", role: "alert" }),
        el("div", { class: "actions" },
          el("button", { type: "submit", class: "btn", id: "merge-submit", text: A.t("merge.submit") })));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const button = form.querySelector("#merge-submit");
        if (button.disabled) return;
        const missing = [];
        if (!select.value) missing.push({ field: "into", message: A.t("merge.required_into") });
        if (!reason.value.trim()) missing.push({ field: "reason", message: A.t("merge.required_reason") });
        if (missing.length) {
          A.showErrors(form, { errors: missing }, "err-m-");
          (select.value ? reason : select).focus();
          return;
        }
        button.disabled = true;
        const merged = inc;
        try {
          const kept = await A.api("POST", `/api/v1/incidents/${merged.id}/merge`,
            { into: Number(select.value), reason: reason.value.trim() });
          S.upsertIncident(kept);
          S.upsertIncident(Object.assign({}, merged, { status: "cancelled", disposition: "duplicate", merged_into: kept.id }));
          A.toast(A.t("merge.done", { number: merged.number, into: kept.number }), "ok");
          S.select(kept.id);
        } catch (err) { A.showErrors(form, err, "err-m-"); button.disabled = false; }
      });
      part.merge.append(form);
    }
    function editPart() {  /* correct an open incident, reopen a closed one */
      const shown = part.edit.querySelector("details[open]");
      if (shown && (shown.id === "d-edit-details") === isOpen()) return;  /* being filled in */
      part.edit.replaceChildren();
      const form = isOpen() ? A.editForm(S, inc) : A.reopenForm(S, inc);
      if (form) part.edit.append(form);
    }
    function splitPart() {
      if (part.split.querySelector("details[open]") && isOpen()) return;  /* being filled in */
      part.split.replaceChildren();
      const form = isOpen() ? A.splitForm(S, inc) : null;
      if (form) part.split.append(form);
    }
    function callsPart() {
      part.calls.replaceChildren(el("h3", { text: A.t("detail.calls", { n: inc.calls.length }) }),
        el("ul", { class: "calls" }, inc.calls.map((c) => el("li", {},
          el("span", { class: "time", text: A.time(c.received_at) }), " ",
          el("span", { text: A.t("channel." + c.channel) }), " · ",
          el("span", { text: c.description || A.t("detail.no_description") })))));
    }
    function entryItem(e) {
      return el("li", { dataset: { id: e.id, kind: e.kind } },
        el("span", { class: "time", text: A.time(e.at) }), " ",
        el("span", { class: "author", text: e.author }), " ", el("span", { text: e.text }));
    }
    async function timeline(id) {
      part.timeline.replaceChildren(el("h3", { text: A.t("detail.timeline") }), el("ol", { class: "timeline", id: "d-timeline-list" }));
      if (!A.can("dutylog:read")) return;
      try {
        const rows = await A.api("GET", `/api/v1/dutylog?incident_id=${id}&limit=500`);
        if (!inc || inc.id !== id) return;
        const list = document.getElementById("d-timeline-list");
        const seen = new Set([...list.children].map((li) => li.dataset.id));
        for (const row of rows) if (!seen.has(String(row.id))) list.append(entryItem(row));
      } catch (e) { /* shown by the toast of the failing action */ }
    }
    function notePart() {
      part.note.replaceChildren();
      if (!A.can("dutylog:write")) return;
      const input = el("input", { id: "d-note-text", autocomplete: "off" });
      const form = el("form", { class: "note-form" }, el("label", { for: "d-note-text", text: A.t("detail.add_note") }), input,
        el("button", { type: "submit", class: "btn btn-small", text: A.t("detail.note_submit") }));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!input.value.trim()) return;
        try {
          await A.api("POST", "/api/v1/dutylog", { text: input.value.trim(), incident_id: inc.id });
          input.value = "";
        } catch (err) { A.toast(err.message, "error"); }
      });
      part.note.append(form);
    }

    A.shortcuts.r = () => recommend();
    A.shortcuts.a = () => { if (candidates.length) assign(candidates[0]); };
    A.shortcuts.p = () => { const plan = part.rec.querySelector("[data-plan]"); if (plan) plan.click(); };
    return {
      open(incident) {
        const changed = !inc || inc.id !== incident.id;
        inc = incident;
        if (changed) candidates = [];
        S.openPanel(`${inc.number}`, "detail");
        if (changed) { part.split.replaceChildren(); part.edit.replaceChildren(); }
        summary(); editPart(); unitsPart(); recPart(); closePart(); mergePart(); splitPart(); callsPart(); notePart();
        if (changed) { links.open(inc); placeHistory.open(inc); timeline(inc.id); } else { links.refresh(inc); placeHistory.refresh(inc); }
      },
      refresh(incident) {
        const wasOpen = isOpen();
        inc = incident;
        summary(); editPart(); unitsPart(); callsPart(); splitPart(); links.refresh(inc); placeHistory.refresh(inc);
        if (wasOpen !== isOpen() || !isOpen()) { recPart(); closePart(); mergePart(); }
        else if (!candidates.length) recPart();
      },
      unitChanged(unit) {
        if (inc && inc.assignments.some((a) => a.unit_id === unit.id)) unitsPart();
      },
      logAppended(entry) {
        links.logAppended(entry);
        const list = document.getElementById("d-timeline-list");
        if (!inc || entry.incident_id !== inc.id || !list) return;
        if (!list.querySelector(`[data-id="${entry.id}"]`)) list.append(entryItem(entry));
      },
    };
  };
})();
