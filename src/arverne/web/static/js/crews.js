/* Crews page (composition des patrouilles), for supervisors: every unit with its crew;
   "Modifier" opens an editor where officers are removed, or added by badge or name (an
   officer on another crew moves over, as the server says in the duty log). The officers
   list is personal data: reading it is audited with the reason below. Crews that change
   elsewhere (an officer signing on from the crew terminal) update live. */
"use strict";

(function () {
  const A = window.Arverne, D = A.data, el = A.el;
  const REASON = "composition des patrouilles (console)";  // ASCII: an HTTP header
  const body = document.getElementById("crews-body");
  const shift = document.getElementById("crews-shift");
  const options = document.getElementById("crews-officers");
  const units = new Map();
  let officers = new Map();   // badge -> officer
  let editing = null;         // unit id being edited

  async function loadOfficers() {
    const list = await A.api("GET", "/api/v1/officers", undefined, { "X-Access-Reason": REASON });
    officers = new Map(list.filter((o) => o.active).map((o) => [o.badge, o]));
    options.replaceChildren(...[...officers.values()].map((o) =>
      el("option", { value: o.badge, label: `${o.name}${o.units.length ? " · " + o.units.join(", ") : ""}` })));
  }
  const officerLabel = (o) => `${o.name} (${o.badge})`;

  function row(unit) {
    return el("tr", { dataset: { id: unit.id } },
      el("th", { scope: "row", text: unit.call_sign }),
      el("td", { text: A.t("unit_type." + unit.unit_type) }),
      el("td", { text: unit.shift ? A.t("shift." + unit.shift) : "—" }),
      el("td", {}, el("span", { class: `sq st-${unit.status}`, "aria-hidden": "true" }), " ", A.t("status." + unit.status)),
      el("td", { class: "crews-names", text: unit.crew.join(", ") || A.t("crews.none") }),
      el("td", {}, el("button", { type: "button", class: "btn btn-small crews-edit",
        "aria-label": A.t("crews.edit_unit", { unit: unit.call_sign }), onclick: () => edit(unit.id) }, A.t("crews.edit"))));
  }
  /* The editor's row is kept while it is open, so live updates never reset it. */
  let editorRow = null;
  function render() {
    const shown = [...units.values()].filter((u) => !shift.value || u.shift === shift.value || u.id === editing)
      .sort((a, b) => a.call_sign.localeCompare(b.call_sign));
    body.replaceChildren(...shown.map((u) => (u.id === editing ? editorRow : row(u))));
    document.body.dataset.ready = "1";
  }

  /* The editor: the crew as a list (badges kept in order), an input to add by badge. */
  function editor(unit) {
    const badges = [...officers.values()].filter((o) => o.units.includes(unit.call_sign)).map((o) => o.badge);
    const list = el("ul", { class: "crews-chips", id: "crews-chips" });
    const error = el("p", { class: "form-error", id: "crews-error", role: "alert" });
    const input = el("input", { id: "crews-add", list: "crews-officers", autocomplete: "off",
      placeholder: A.t("crews.add_hint") });
    function draw() {
      list.replaceChildren(...badges.map((badge, i) => {
        const o = officers.get(badge);
        return el("li", { dataset: { badge: badge } }, o ? officerLabel(o) : badge, " ",
          el("button", { type: "button", class: "btn btn-small btn-ghost", "aria-label": A.t("crews.remove", { name: o ? o.name : badge }),
            onclick: () => { badges.splice(i, 1); draw(); } }, "✕"));
      }));
      if (!badges.length) list.append(el("li", { class: "muted", text: A.t("crews.none") }));
    }
    function add() {
      const badge = input.value.trim();
      const o = officers.get(badge);
      error.textContent = "";
      if (!o) { error.textContent = A.t("crews.unknown", { badge: badge }); input.focus(); return; }
      if (!badges.includes(badge)) badges.push(badge);
      if (o.units.length && !o.units.includes(unit.call_sign)) A.toast(A.t("crews.moves", { name: o.name, from: o.units.join(", ") }), "warn");
      input.value = "";
      draw();
      input.focus();
    }
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); add(); } });
    async function save(event) {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        const saved = await A.api("PUT", `/api/v1/units/${unit.id}/crew`, { badges: badges });
        units.set(saved.id, saved);
        editing = null;
        editorRow = null;
        await loadOfficers();
        A.toast(A.t("crews.saved", { unit: saved.call_sign }), "ok");
        render();
      } catch (e) {
        error.textContent = e.message;
        button.disabled = false;
      }
    }
    draw();
    const cell = el("td", { colspan: "6" },
      el("h2", { class: "crews-editing", text: A.t("crews.editing", { unit: unit.call_sign }) }),
      list,
      el("label", { for: "crews-add", text: A.t("crews.add") }),
      el("div", { class: "crews-add-row" }, input,
        el("button", { type: "button", class: "btn", id: "crews-add-button", onclick: add }, A.t("crews.add_button"))),
      error,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "btn btn-primary", id: "crews-save", onclick: save }, A.t("crews.save")),
        el("button", { type: "button", class: "btn", onclick: () => { editing = null; editorRow = null; render(); } }, A.t("common.cancel"))));
    return el("tr", { class: "crews-editor", dataset: { id: unit.id } }, cell);
  }
  function edit(id) {
    editing = id;
    editorRow = editor(units.get(id));
    render();
    document.getElementById("crews-add").focus();
  }

  shift.addEventListener("change", render);
  A.live(D.last_event_id, {
    "unit.updated": (unit) => {
      const before = units.get(unit.id);
      units.set(unit.id, unit);
      /* A crew changed elsewhere: the officers' units are read again (an audited read). */
      if (before && JSON.stringify(before.crew) !== JSON.stringify(unit.crew)) {
        loadOfficers().then(render).catch((e) => A.toast(e.message, "error"));
      } else {
        render();
      }
    },
  }, () => load());

  async function load() {
    const [list] = await Promise.all([A.api("GET", "/api/v1/units"), loadOfficers()]);
    units.clear();
    for (const unit of list) units.set(unit.id, unit);
    render();
  }
  load().catch((e) => A.toast(e.message, "error"));
})();
