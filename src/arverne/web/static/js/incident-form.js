/* New-incident form: type picker with priority, address autocomplete or map click,
   duplicate suggestions and the place's history before saving, errors next to their
   field. */
"use strict";

(function () {
  const A = window.Arverne;

  /* The incident types as <optgroup>s by group, each option with its default priority. */
  A.typeOptgroups = function () {
    const groups = new Map();
    for (const t of A.data.types) {
      if (!groups.has(t.group)) groups.set(t.group, A.el("optgroup", { label: A.t("group." + t.group) }));
      groups.get(t.group).append(A.el("option", { value: t.code, text: `P${t.priority} · ${A.typeLabel(t.code)}` }));
    }
    return [...groups.values()];
  };

  A.makeIncidentForm = function (S) {
    const D = A.data;
    const form = document.getElementById("incident-form");
    const type = document.getElementById("f-type");
    const prio = document.getElementById("f-priority");
    const address = document.getElementById("f-address");
    const list = document.getElementById("f-address-list");
    const point = document.getElementById("f-point");
    const dupBox = document.getElementById("f-duplicates");
    const historyBox = document.getElementById("f-history");
    let historyAt = null;
    const submit = document.getElementById("f-submit");
    const channel = document.getElementById("f-channel");
    let where = null, linkTo = null, key = A.newKey(), geocoder = D.geocoder !== false, suggestions = [], active = -1, timer = null;
    const noGeocoder = () => {
      geocoder = false;
      document.getElementById("f-where").textContent = A.t("form.no_geocoder");
    };
    if (!geocoder) noGeocoder();

    type.append(...A.typeOptgroups());
    channel.append(...D.channels.map((c) => A.el("option", { value: c, text: A.t("channel." + c) })));
    const showPriority = () => {
      const t = S.types.get(type.value);
      const p = Number(prio.value) || (t && t.priority);
      document.getElementById("f-type-prio").textContent = p
        ? A.t("form.priority_shown", { p: p, target: Math.round(D.targets[p] / 60) }) : "";
      document.getElementById("f-type-prio").className = `prio-shown prio-text-${p || 0}`;
    };
    type.addEventListener("change", showPriority);
    prio.addEventListener("change", showPriority);

    function setPoint(lon, lat, label) {
      where = { lon: lon, lat: lat };
      point.textContent = A.t("form.point", { lat: lat.toFixed(5), lon: lon.toFixed(5) }) + (label ? ` — ${label}` : "");
      S.map && S.map.setPlacing(lon, lat);
      checkDuplicates();
      showHistory(lon, lat);
    }
    /* What happened at this place before (premise history), once per point. */
    async function showHistory(lon, lat) {
      const at = `${lon},${lat}`;
      if (at === historyAt) return;
      historyAt = at;
      historyBox.replaceChildren();
      try {
        const out = await A.api("GET", `/api/v1/place-history?lon=${lon}&lat=${lat}&limit=1`);
        if (historyAt === at) historyBox.replaceChildren(A.placeHistoryLine(out) || "");
      } catch (e) { /* the form works without it */ }
    }
    function checkDuplicates() {
      dupBox.replaceChildren();
      linkTo = null;
      if (!where) return;
      const now = A.now().getTime();
      const near = [...S.incidents.values()].filter((i) =>
        ["queued", "dispatched", "en_route", "on_scene"].includes(i.status) &&
        now - Date.parse(i.created_at) <= D.duplicate_window_minutes * 60000 &&
        A.metres(i, where) <= D.duplicate_radius_m);
      if (!near.length) return;
      dupBox.append(A.el("p", { class: "dup-title", text: A.t("form.duplicates", { n: near.length }) }));
      for (const inc of near) {
        const box = A.el("input", { type: "checkbox", id: `dup-${inc.id}`, value: inc.id, onchange: (e) => {
          for (const other of dupBox.querySelectorAll("input")) if (other !== e.target) other.checked = false;
          linkTo = e.target.checked ? inc.id : null;
          submit.textContent = A.t(linkTo ? "form.submit_link" : "form.submit");
        } });
        dupBox.append(A.el("div", { class: "dup" }, box, A.el("label", { for: `dup-${inc.id}`,
          text: A.t("form.duplicate_item", { number: inc.number, type: A.typeLabel(inc.type_code),
            m: Math.round(A.metres(inc, where)),
            min: Math.round((now - Date.parse(inc.created_at)) / 60000) }) })));
      }
    }

    /* Address autocomplete (combobox); without a geocoder the map click still works. */
    function closeList() {
      list.hidden = true; list.replaceChildren(); address.setAttribute("aria-expanded", "false");
      address.removeAttribute("aria-activedescendant"); active = -1;
    }
    function choose(index) {
      const c = suggestions[index];
      if (!c) return;
      address.value = c.label;
      setPoint(c.lon, c.lat, null);
      closeList();
    }
    async function lookup() {
      const q = address.value.trim();
      if (!geocoder || q.length < 3) { closeList(); return; }
      try {
        const answer = await A.api("GET", `/api/v1/geo/geocode?q=${encodeURIComponent(q)}&limit=6`);
        suggestions = answer.candidates || [];
        list.replaceChildren(...suggestions.map((c, i) => A.el("li", {
          id: `addr-${i}`, role: "option", class: "suggestion", "aria-selected": "false",
          onmousedown: (e) => { e.preventDefault(); choose(i); },
        }, c.label)));
        if (!suggestions.length) list.append(A.el("li", { class: "hint", role: "option", "aria-disabled": "true", title: answer.hint || "", text: A.t("form.no_match") }));
        list.hidden = list.children.length === 0;
        address.setAttribute("aria-expanded", String(!list.hidden));
      } catch (e) {
        if (e.status === 404 || e.status === 501) noGeocoder();
        closeList();
      }
    }
    address.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(lookup, 180); });
    address.addEventListener("blur", () => setTimeout(closeList, 150));
    address.addEventListener("keydown", (e) => {
      if (list.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : -1) + suggestions.length) % Math.max(1, suggestions.length);
        for (const [i, li] of [...list.children].entries()) li.setAttribute("aria-selected", String(i === active));
        address.setAttribute("aria-activedescendant", `addr-${active}`);
      } else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(active); }
      else if (e.key === "Escape") { e.stopPropagation(); closeList(); }
    });

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (submit.disabled) return;
      const body = { type_code: type.value, call: { channel: channel.value } };
      if (prio.value) body.priority = Number(prio.value);
      if (address.value.trim()) body.address = address.value.trim();
      if (where) Object.assign(body, where);
      if (linkTo) body.link_to = linkTo;
      const text = document.getElementById("f-description").value.trim();
      if (text) { body.description = text; body.call.description = text; }
      const phone = document.getElementById("f-phone").value.trim();
      const caller = document.getElementById("f-caller").value.trim();
      if (phone) body.call.caller_phone = phone;
      if (caller) body.call.caller_name = caller;
      if (!body.type_code) {
        A.showErrors(form, { errors: [{ field: "type_code", message: A.t("form.type_required") }] }, "err-");
        type.focus();
        return;
      }
      submit.disabled = true;
      try {
        const out = await A.api("POST", "/api/v1/incidents", body, { "Idempotency-Key": key });
        S.upsertIncident(out.incident);
        A.toast(A.t(out.linked ? "form.linked" : "form.created", { number: out.incident.number }), "ok");
        if (out.duplicates && out.duplicates.length && !out.linked) {
          A.toast(A.t("form.server_duplicates", { list: out.duplicates.map((d) => d.number).join(", ") }), "warn");
        }
        api.reset();
        S.select(out.incident.id);
      } catch (err) {
        A.showErrors(form, err, "err-");
      } finally {
        submit.disabled = false;
      }
    });
    document.getElementById("f-cancel").addEventListener("click", () => S.closePanel());

    const api = {
      open() {
        S.selected = null;
        if (S.map) S.map.clearFocus();
        S.render();
        S.openPanel(A.t("form.title"), "form");
        document.getElementById("map-hint").hidden = false;
        type.focus();
      },
      place(lon, lat) {
        if (form.hidden) return;
        setPoint(lon, lat, null);
        A.api("GET", `/api/v1/geo/reverse?lon=${lon}&lat=${lat}`).then((place) => {
          const label = place && (place.address || place.street);
          if (label && where && where.lon === lon) setPoint(lon, lat, label);
        }).catch(() => {});
      },
      reset() {
        form.reset();
        where = null; linkTo = null; key = A.newKey(); historyAt = null;
        point.textContent = ""; dupBox.replaceChildren(); historyBox.replaceChildren();
        submit.textContent = A.t("form.submit");
        for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.textContent = "";
        document.getElementById("map-hint").hidden = true;
        showPriority();
        S.map && S.map.setPlacing(null, null);
      },
    };
    const opener = document.getElementById("new-incident");
    if (opener) opener.addEventListener("click", () => api.open());
    A.shortcuts.n = () => api.open();
    return api;
  };
})();
