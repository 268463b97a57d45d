/* Officers page (agents): every officer with rank, the login account they use on the crew
   terminal, the units they crew and whether active. Administrators (officer:manage) add an
   officer (linked at once to an account if given), correct a name or a rank, link or
   unlink the account, and disable an officer who left (two presses: it takes them off
   every crew) or enable them again. The list is personal data: reading it is audited with
   the reason below, and so is the list of accounts offered for linking. */
"use strict";

(function () {
  const A = window.Arverne, el = A.el;
  const REASON = "gestion des agents (console)";  // ASCII: an HTTP header
  const body = document.getElementById("officers-body");
  const filter = document.getElementById("officers-filter");
  const inactive = document.getElementById("officers-inactive");
  const accounts = document.getElementById("officers-accounts");
  const manage = A.can("officer:manage");
  let officers = [];
  let editing = null, editorRow = null;   // the badge being edited, and its row (kept)

  async function load() {
    officers = await A.api("GET", "/api/v1/officers", undefined, { "X-Access-Reason": REASON });
    render();
  }
  async function loadAccounts() {
    if (!manage || !A.can("user:read")) return;
    const users = await A.api("GET", "/api/v1/users?active_only=true", undefined, { "X-Access-Reason": REASON });
    accounts.replaceChildren(...users.map((u) => el("option", { value: u.username, label: `${u.full_name} (${u.roles.join(", ")})` })));
  }

  function shown() {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    return officers.filter((o) => (inactive.checked || o.active || o.badge === editing) &&
      words.every((w) => `${o.badge} ${o.name} ${o.rank || ""} ${o.username || ""} ${o.units.join(" ")}`.toLowerCase().includes(w)));
  }
  function row(o) {
    return el("tr", { dataset: { badge: o.badge }, class: o.active ? null : "officer-inactive" },
      el("th", { scope: "row", text: o.badge }),
      el("td", { class: "officer-name", text: o.name }),
      el("td", { text: o.rank || "—" }),
      el("td", { class: "officer-account", text: o.username || A.t("officers.no_account") }),
      el("td", { text: o.units.join(", ") || "—" }),
      el("td", { class: "officer-state", text: A.t(o.active ? "officers.active" : "officers.inactive") }),
      el("td", {}, manage ? actions(o) : null));
  }
  function actions(o) {
    const edit = el("button", { type: "button", class: "btn btn-small officer-edit",
      "aria-label": A.t("officers.edit_one", { name: o.name }), onclick: () => { editing = o.badge; editorRow = editor(o); render(); } }, A.t("crews.edit"));
    /* Leaving the force takes the officer off every crew: confirmed by a second press. */
    const flip = (button) => save(o.badge, { active: !o.active }, button, null);
    const toggle = el("button", { type: "button", class: "btn btn-small btn-ghost officer-toggle",
      "aria-label": A.t(o.active ? "officers.disable_one" : "officers.enable_one", { name: o.name }),
      onclick: o.active ? A.twoPress(flip, A.t("officers.disable_confirm")) : (event) => flip(event.currentTarget) },
    A.t(o.active ? "officers.disable" : "officers.enable"));
    return [edit, " ", toggle];
  }
  /* The editor replaces the row; only the fields that changed are sent. */
  function editor(o) {
    const form = el("form", { class: "officer-editor", id: "officer-editor" });
    const field = (name, label, value, extra) => el("div", {},
      el("label", { for: `edit-${name}`, text: label }),
      el("input", { id: `edit-${name}`, value: value || "", autocomplete: "off", ...(extra || {}) }),
      el("p", { class: "field-error", id: `err-edit-${name}` }));
    const current = { first_name: o.first_name, last_name: o.last_name, rank: o.rank || "", username: o.username || "" };
    form.append(el("p", { class: "crews-editing", text: A.t("officers.editing", { badge: o.badge }) }),
      el("div", { class: "officer-fields" },
        field("first_name", A.t("officers.first_name"), current.first_name, { required: true, maxlength: "100" }),
        field("last_name", A.t("officers.last_name"), current.last_name, { required: true, maxlength: "100" }),
        field("rank", A.t("officers.rank"), current.rank, { maxlength: "64" }),
        field("username", A.t("officers.account"), current.username, { list: "officers-accounts", placeholder: A.t("officers.account_hint") })),
      el("p", { class: "form-error", role: "alert" }),
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "btn btn-primary", id: "officer-save" }, A.t("officers.save")),
        el("button", { type: "button", class: "btn btn-ghost", onclick: () => { editing = null; render(); } }, A.t("officers.cancel"))));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const changes = {};
      for (const name of ["first_name", "last_name", "rank", "username"]) {
        const value = form.querySelector(`#edit-${name}`).value.trim();
        if (value !== current[name]) changes[name] = value || (name === "rank" || name === "username" ? null : "");
      }
      if (!Object.keys(changes).length) { editing = null; render(); return; }
      save(o.badge, changes, event.submitter, form);
    });
    return el("tr", { class: "crews-editor", dataset: { badge: o.badge } }, el("td", { colspan: "7" }, form));
  }
  async function save(badge, changes, button, form) {
    if (button) button.disabled = true;
    try {
      const out = await A.api("PATCH", `/api/v1/officers/${encodeURIComponent(badge)}`, changes);
      officers = officers.map((o) => (o.badge === out.badge ? out : o));
      editing = null;
      A.toast(A.t("officers.saved", { name: out.name }), "ok");
      render();
    } catch (err) {
      if (form) A.showErrors(form, err, "err-edit-"); else A.toast(err.message, "error");
    } finally {
      if (button) button.disabled = false;
    }
  }
  function render() {
    if (editing === null) editorRow = null;
    body.replaceChildren(...shown().map((o) => (o.badge === editing && editorRow ? editorRow : row(o))));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: A.t("officers.none") })));
    document.body.dataset.ready = "1";
  }

  const form = document.getElementById("officer-new");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = (name) => document.getElementById(`new-${name}`).value.trim();
      const out = { badge: value("badge"), first_name: value("first_name"), last_name: value("last_name") };
      if (value("rank")) out.rank = value("rank");
      if (value("username")) out.username = value("username");
      const button = document.getElementById("officer-add");
      button.disabled = true;
      try {
        const made = await A.api("POST", "/api/v1/officers", out);
        officers = [...officers, made].sort((a, b) => a.badge.localeCompare(b.badge));
        form.reset();
        A.showErrors(form, { errors: [] }, "err-");
        form.querySelector(".form-error").textContent = "";
        A.toast(A.t("officers.added", { name: made.name, badge: made.badge }), "ok");
        render();
      } catch (err) {
        A.showErrors(form, err, "err-");
      } finally {
        button.disabled = false;
      }
    });
  }
  filter.addEventListener("input", render);
  inactive.addEventListener("change", render);
  load().catch((e) => A.toast(e.message, "error"));
  loadAccounts().catch(() => { /* suggestions only */ });
})();
