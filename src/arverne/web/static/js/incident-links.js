/* Linked incidents in the detail panel: related events that stay separate (a robbery and
   the crash of the getaway car). The list shows the other incident of each link (a click
   opens it when it is open); a folded form links another one, an open
   incident nearest first or any incident by its number (a closed one), with a reason;
   each row can be removed with a reason (the link is kept, marked removed). Links are not
   part of the incident object: they are fetched when an incident opens and again when
   the duty log says a link of this incident changed. */
"use strict";

(function () {
  const A = window.Arverne;
  const el = (...args) => A.el(...args);
  const OPEN = ["queued", "dispatched", "en_route", "on_scene"];
  const NUMBER = /^(\d{4})-(\d{1,9})$/;
  const KINDS = ["incident_linked", "incident_unlinked"];

  /* The "links" part of the detail panel, drawn in `section`. */
  A.makeIncidentLinks = function (S, section) {
    let inc = null, links = [], loaded = false, seq = 0;
    const example = () => `${new Date().getFullYear()}-000123`;
    const list = el("ul", { class: "links", id: "d-links-list", "aria-labelledby": "d-links-title" });
    const note = el("p", { class: "muted", id: "d-links-note", hidden: true });
    const formBox = el("div", { class: "links-add" });
    section.append(el("h3", { id: "d-links-title", text: A.t("links.title") }), list, note, formBox);

    /* An open incident on this screen opens with a click; a closed one is only shown (the
       stream may have brought it into S.incidents: that does not make it clickable). */
    const clickable = (id) => S.incidents.has(id) && OPEN.includes(S.incidents.get(id).status);

    /* One linked incident; its removal form stays folded until "Retirer" is pressed. */
    function row(l, version) {
      const id = l.incident_id;
      const what = [
        el("span", { class: "link-number", text: l.number }), " ",
        el("span", { class: "link-type", text: A.typeLabel(l.type_code) }), " ",
        el("span", { class: `inc-status status-${l.status}`, text: A.t("incident.status." + l.status) }),
      ];
      const main = clickable(id)
        ? el("button", { type: "button", class: "link-open", onclick: () => S.select(id) }, what)
        : el("span", { class: "link-main" }, what);
      const li = el("li", { class: "link", dataset: { id: id } }, main,
        el("span", { class: "link-reason", text: l.reason }),
        el("span", { class: "link-meta muted", text: `${A.dateTime(l.created_at)} · ${l.created_by}` }));
      li._version = version;
      if (!A.can("incident:update")) return li;
      const reason = el("input", { id: `d-unlink-reason-${id}`, autocomplete: "off", maxlength: "500",
        "aria-describedby": `err-u-${id}-reason` });
      const form = el("form", { class: "unlink-form", id: `d-unlink-${id}`, novalidate: true, hidden: true },
        el("label", { for: reason.id, text: A.t("links.remove_reason", { number: l.number }) }), reason,
        el("p", { class: "field-error", id: `err-u-${id}-reason` }),
        el("p", { class: "form-error", role: "alert" }),
        el("div", { class: "actions" },
          el("button", { type: "submit", class: "btn btn-small btn-danger", id: `unlink-submit-${id}`, text: A.t("links.remove_confirm") }),
          el("button", { type: "button", class: "btn btn-small", text: A.t("common.cancel"), onclick: () => fold(false) })));
      const toggle = el("button", { type: "button", class: "btn btn-small link-remove", "aria-expanded": "false",
        "aria-controls": form.id, "aria-label": A.t("links.remove_label", { number: l.number }),
        text: A.t("links.remove"), onclick: () => fold(form.hidden) });
      function fold(open) {
        form.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
        if (open) reason.focus();
        else {
          reason.value = "";
          for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.textContent = "";
          toggle.focus();
        }
      }
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const button = form.querySelector(`#unlink-submit-${id}`);
        if (button.disabled) return;
        if (!reason.value.trim()) {
          A.showErrors(form, { errors: [{ field: "reason", message: A.t("links.required_remove_reason") }] }, `err-u-${id}-`);
          reason.focus();
          return;
        }
        button.disabled = true;
        const from = inc;
        try {
          await A.api("POST", `/api/v1/incidents/${from.id}/links/${id}/remove`, { reason: reason.value.trim() });
          A.toast(A.t("links.removed", { number: from.number, other: l.number }), "ok");
          load();
        } catch (err) {
          button.disabled = false;
          if (err.status !== 404) { A.showErrors(form, err, `err-u-${id}-`); return; }
          A.toast(A.t("links.gone", { number: l.number }), "warn");  /* removed meanwhile */
          load();
        }
      });
      li.append(toggle, form);
      return li;
    }

    /* Update the list in place: unchanged rows (and a removal being typed) stay as they are. */
    function render() {
      const old = new Map([...list.children].map((li) => [li.dataset.id, li]));
      const rows = links.map((l) => {
        const version = JSON.stringify([l, clickable(l.incident_id)]);
        const kept = old.get(String(l.incident_id));
        return kept && kept._version === version ? kept : row(l, version);
      });
      const keep = new Set(rows);
      for (const li of [...list.children]) if (!keep.has(li)) li.remove();
      rows.forEach((li, i) => { if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null); });
      note.hidden = !loaded || links.length > 0;
      if (loaded && !links.length) note.textContent = A.t("links.none");
    }

    async function load() {
      if (!inc) return;
      const id = inc.id, mine = ++seq;
      try {
        const rows = await A.api("GET", `/api/v1/incidents/${id}/links`);
        if (mine !== seq || !inc || inc.id !== id) return;
        links = rows;
        loaded = true;
        render();
        formPart(false);
      } catch (e) {
        if (mine !== seq || !inc || inc.id !== id) return;
        note.textContent = A.t("links.load_failed");
        note.hidden = false;
      }
    }

    /* The folded link form; left alone while it is being filled in unless `force`. */
    function formPart(force) {
      if (!force && formBox.querySelector("details[open]")) return;
      formBox.replaceChildren();
      if (!inc || !A.can("incident:update")) return;
      const linked = new Set(links.map((l) => l.incident_id));
      const others = [...S.incidents.values()]
        .filter((o) => o.id !== inc.id && OPEN.includes(o.status) && !linked.has(o.id))
        .map((o) => [A.metres(inc, o), o]).sort((a, b) => a[0] - b[0]).slice(0, 30);
      const select = el("select", { id: "d-link-other", "aria-describedby": "err-l-other" },
        el("option", { value: "", text: A.t(others.length ? "links.choose" : "links.choose_none") }),
        others.map(([d, o]) => el("option", { value: o.id,
          text: `${o.number} · ${A.typeLabel(o.type_code)} · ${A.incidentPlace(o)} · ${Math.round(d)} m` })));
      const number = el("input", { id: "d-link-number", autocomplete: "off", maxlength: "20",
        placeholder: A.t("links.number_placeholder", { example: example() }), "aria-describedby": "err-l-other" });
      const reason = el("input", { id: "d-link-reason", autocomplete: "off", maxlength: "500", "aria-describedby": "err-l-reason" });
      /* One way to name the other incident at a time: picking one clears the other. */
      select.addEventListener("change", () => { if (select.value) number.value = ""; });
      number.addEventListener("input", () => { if (number.value.trim()) select.value = ""; });
      const form = el("form", { id: "links-form", class: "links-form", novalidate: true },
        el("p", { class: "muted", text: A.t("links.help", { number: inc.number }) }),
        el("label", { for: "d-link-other", text: A.t("links.other") }), select,
        el("label", { for: "d-link-number", text: A.t("links.number") }), number,
        el("p", { class: "field-error", id: "err-l-other" }),
        el("label", { for: "d-link-reason", text: A.t("links.reason") }), reason,
        el("p", { class: "field-error", id: "err-l-reason" }),
        el("p", { class: "form-error", role: "alert" }),
        el("div", { class: "actions" },
          el("button", { type: "submit", class: "btn", id: "link-submit", text: A.t("links.submit") })));
      const details = el("details", { class: "links-details", id: "d-link-details" },
        el("summary", { text: A.t("links.add") }), form);
      const fail = (field, message, focus) => {
        A.showErrors(form, { errors: [{ field: field, message: message }] }, "err-l-");
        focus.focus();
      };
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const button = form.querySelector("#link-submit");
        if (button.disabled) return;
        const from = inc, typed = number.value.trim();
        const match = typed ? NUMBER.exec(typed) : null;
        const other = typed ? (match ? Number(match[2]) : 0) : Number(select.value || 0);
        const missing = [];
        if (typed && !other) missing.push({ field: "other", message: A.t("links.bad_number", { example: example() }) });
        else if (!other) missing.push({ field: "other", message: A.t("links.required_other") });
        else if (other === from.id) missing.push({ field: "other", message: A.t("links.self") });
        if (!reason.value.trim()) missing.push({ field: "reason", message: A.t("links.required_reason") });
        if (missing.length) {
          A.showErrors(form, { errors: missing }, "err-l-");
          (missing[0].field === "other" ? (typed ? number : select) : reason).focus();
          return;
        }
        button.disabled = true;
        try {
          if (typed) {
            /* The id is in the number; the year must match too, or it is another incident. */
            const wanted = `${match[1]}-${String(other).padStart(6, "0")}`;
            let found = null;
            try { found = await A.api("GET", `/api/v1/incidents/${other}`); }
            catch (err) { if (err.status !== 404) throw err; }
            if (!found || found.number !== wanted) {
              fail("other", A.t("links.unknown", { number: typed }), number);
              button.disabled = false;
              return;
            }
          }
          const out = await A.api("POST", `/api/v1/incidents/${from.id}/links`, { other: other, reason: reason.value.trim() });
          A.toast(A.t("links.done", { number: from.number, other: out.number }), "ok");
          if (inc && inc.id === from.id) {
            formPart(true);
            const summary = formBox.querySelector("summary");
            if (summary) summary.focus();
            load();
          }
        } catch (err) {
          button.disabled = false;
          if (err.status === 409) fail("other", A.t("links.already"), typed ? number : select);
          else if (err.status === 404) fail("other", A.t("links.unknown", { number: typed || other }), typed ? number : select);
          else A.showErrors(form, err, "err-l-");
        }
      });
      formBox.append(details);
    }

    return {
      open(incident) {
        inc = incident;
        links = [];
        loaded = false;
        list.replaceChildren();
        note.hidden = true;
        formPart(true);
        load();
      },
      refresh(incident) {
        inc = incident;
        formPart(false);
      },
      logAppended(entry) {
        if (inc && entry.incident_id === inc.id && KINDS.includes(entry.kind)) load();
      },
    };
  };
})();
