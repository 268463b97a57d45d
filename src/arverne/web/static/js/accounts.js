/* Accounts page (comptes): every account that may sign in, its roles, second factor,
   state (active, disabled, locked after failed sign-ins) and last sign-in. Administrators
   (user:manage) add an account, and per account: change name, e-mail and roles, set a new
   password (typed or generated, to hand over), lift a lockout, remove a lost second
   factor, revoke API tokens, and disable (two presses: it ends the account's sessions and
   tokens) or enable it. The server keeps the last active administrator and refuses that
   anyone disable their own account; its refusals are shown where the change was made.
   Names and e-mails are personal data: reading the list is audited with the reason below. */
"use strict";

(function () {
  const A = window.Arverne, el = A.el;
  const REASON = "gestion des comptes (console)";  // ASCII: an HTTP header
  const ROLES = A.data.roles;
  const body = document.getElementById("accounts-body");
  const filter = document.getElementById("accounts-filter");
  const roleFilter = document.getElementById("accounts-role");
  const inactive = document.getElementById("accounts-inactive");
  const manage = A.can("user:manage");
  let accounts = [];
  let open = null, panelRow = null;   // the account whose panel is open, and its row (kept)

  async function load() {
    accounts = await A.api("GET", "/api/v1/users", undefined, { "X-Access-Reason": REASON });
    render();
  }
  const locked = (u) => Boolean(u.locked_until && Date.parse(u.locked_until) > A.now().getTime());
  const roleNames = (roles) => roles.map((r) => A.t(`role.${r}`)).join(", ");
  /* A password to hand over: 16 characters without look-alikes (0/O, 1/l/I), each drawn
     evenly (bytes past the last whole multiple of the alphabet are drawn again). */
  function generated() {
    const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    const limit = 256 - (256 % alphabet.length);
    let out = "";
    while (out.length < 16) {
      for (const b of crypto.getRandomValues(new Uint8Array(32))) {
        if (b < limit && out.length < 16) out += alphabet[b % alphabet.length];
      }
    }
    return out;
  }
  function showPassword(input) {
    input.value = generated();
    input.type = "text";   // to be read out or copied: it is shown once, never stored here
    input.select();
  }

  function shown() {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    return accounts.filter((u) => (inactive.checked || u.is_active || u.id === open) &&
      (!roleFilter.value || u.roles.includes(roleFilter.value)) &&
      words.every((w) => `${u.username} ${u.full_name} ${u.email || ""} ${roleNames(u.roles)}`.toLowerCase().includes(w)));
  }
  function state(u) {
    if (!u.is_active) return A.t("accounts.disabled");
    if (locked(u)) return A.t("accounts.locked_until", { time: A.dateTime(u.locked_until) });
    return A.t(u.must_change_password ? "accounts.temporary" : "accounts.active");
  }
  function row(u) {
    return el("tr", { dataset: { username: u.username }, class: u.is_active ? null : "officer-inactive" },
      el("th", { scope: "row", text: u.username }),
      el("td", { class: "account-name" }, u.full_name, u.email ? el("div", { class: "muted", text: u.email }) : null),
      el("td", { class: "account-roles-cell", text: roleNames(u.roles) }),
      el("td", { text: A.t(u.totp_enabled ? "accounts.mfa_on" : "accounts.mfa_off") }),
      el("td", { class: "account-state" + (locked(u) ? " account-locked" : ""), text: state(u) }),
      el("td", { text: u.last_sign_in_at ? A.dateTime(u.last_sign_in_at) : A.t("accounts.never") }),
      el("td", {}, manage ? actions(u) : null));
  }
  function actions(u) {
    const manageButton = el("button", { type: "button", class: "btn btn-small account-manage",
      "aria-label": A.t("accounts.manage_one", { name: u.username }),
      onclick: () => { open = u.id; panelRow = panel(u); render(); } }, A.t("accounts.manage"));
    if (u.username === A.data.user) return [manageButton];   // not disabled from here
    /* Disabling ends the account's sessions and tokens: confirmed by a second press. */
    const flip = (button) => change(u, { is_active: !u.is_active }, button, null);
    const toggle = el("button", { type: "button", class: "btn btn-small btn-ghost account-toggle",
      "aria-label": A.t(u.is_active ? "accounts.disable_one" : "accounts.enable_one", { name: u.username }),
      onclick: u.is_active ? A.twoPress(flip, A.t("accounts.disable_confirm")) : (event) => flip(event.currentTarget) },
    A.t(u.is_active ? "accounts.disable" : "accounts.enable"));
    return [manageButton, " ", toggle];
  }

  /* The panel replaces the row: profile and roles, password, security, API tokens. */
  function panel(u) {
    const close = el("button", { type: "button", class: "btn btn-ghost", id: "account-close",
      onclick: () => { open = null; render(); } }, A.t("accounts.close"));
    const td = el("td", { colspan: "7" },
      el("p", { class: "crews-editing", text: A.t("accounts.editing", { name: `${u.full_name} (${u.username})` }) }),
      profileForm(u), passwordForm(u), securityBox(u), tokensBox(u), el("div", { class: "actions" }, close));
    return el("tr", { class: "crews-editor account-panel", dataset: { username: u.username } }, td);
  }
  function field(id, label, input) {
    return el("div", {}, el("label", { for: id, text: label }), input, el("p", { class: "field-error", id: `err-${id}` }));
  }
  function roleBoxes(id, checked) {
    return el("fieldset", { class: "account-roles", id },
      el("legend", { text: A.t("accounts.roles") }),
      ROLES.map((r) => el("label", {}, el("input", { type: "checkbox", name: "roles", value: r, checked: checked.includes(r) }), ` ${A.t(`role.${r}`)}`)),
      el("p", { class: "field-error", id: `err-${id}-roles` }));
  }
  const checkedRoles = (box) => Array.from(box.querySelectorAll("input[name=roles]:checked"), (i) => i.value);
  function profileForm(u) {
    const form = el("form", { class: "account-section", id: "account-profile" },
      el("h3", { text: A.t("accounts.profile") }),
      el("div", { class: "officer-fields" },
        field("edit-full_name", A.t("accounts.full_name"), el("input", { id: "edit-full_name", value: u.full_name, required: true, maxlength: "200", autocomplete: "off" })),
        field("edit-email", A.t("accounts.email"), el("input", { id: "edit-email", type: "email", value: u.email || "", maxlength: "254", autocomplete: "off" }))),
      roleBoxes("edit", u.roles),
      el("p", { class: "form-error", role: "alert" }),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "btn btn-primary", id: "account-save" }, A.t("accounts.save"))));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const changes = {};
      const name = form.querySelector("#edit-full_name").value.trim(), email = form.querySelector("#edit-email").value.trim();
      if (name !== u.full_name) changes.full_name = name;
      if (email !== (u.email || "")) changes.email = email || null;
      const roles = checkedRoles(form);
      if (roles.slice().sort().join() !== u.roles.join()) changes.roles = roles;
      if (!Object.keys(changes).length) { A.toast(A.t("accounts.unchanged"), "info"); return; }
      change(u, changes, event.submitter, form);
    });
    return form;
  }
  function passwordForm(u) {
    const input = el("input", { id: "edit-password", type: "password", required: true, minlength: "10", maxlength: "256", autocomplete: "new-password" });
    const form = el("form", { class: "account-section", id: "account-password" },
      el("h3", { text: A.t("accounts.password") }),
      el("p", { class: "hint", text: A.t("accounts.password_reset_hint") }),
      el("div", { class: "officer-fields" }, field("edit-password", A.t("accounts.new_password"), input)),
      el("p", { class: "form-error", role: "alert" }),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "btn btn-ghost", id: "edit-generate", onclick: () => showPassword(input) }, A.t("accounts.generate")),
        el("button", { type: "submit", class: "btn btn-primary", id: "account-set-password" }, A.t("accounts.set_password"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await act(event.submitter, form, async () => {
        await A.api("POST", `/api/v1/users/${u.id}/reset-password`, { password: input.value });
        A.toast(A.t("accounts.password_set", { name: u.username }), "ok");
        /* The list shows it when the panel closes (the panel keeps the password in view). */
        accounts = accounts.map((a) => (a.id === u.id ? { ...a, must_change_password: true, locked_until: null } : a));
      }, "err-edit-");
    });
    return form;
  }
  function securityBox(u) {
    const box = el("div", { class: "account-section", id: "account-security" }, el("h3", { text: A.t("accounts.security") }));
    if (locked(u)) {
      box.append(el("p", { text: A.t("accounts.locked_until", { time: A.dateTime(u.locked_until) }) }),
        el("button", { type: "button", class: "btn", id: "account-unlock", onclick: (event) => act(event.currentTarget, null, async () => {
          replace(await A.api("POST", `/api/v1/users/${u.id}/unlock`));
          A.toast(A.t("accounts.unlocked", { name: u.username }), "ok");
        }) }, A.t("accounts.unlock")));
    } else {
      box.append(el("p", { class: "muted", text: A.t("accounts.not_locked") }));
    }
    if (u.totp_enabled) {
      /* The user enrols again at the next sign-in; their sessions end now. */
      box.append(" ", el("button", { type: "button", class: "btn btn-ghost", id: "account-reset-mfa",
        onclick: A.twoPress((button) => act(button, null, async () => {
          await A.api("POST", `/api/v1/users/${u.id}/reset-mfa`);
          replace({ ...u, totp_enabled: false });
          A.toast(A.t("accounts.mfa_removed", { name: u.username }), "ok");
        }), A.t("accounts.reset_mfa_confirm")) }, A.t("accounts.reset_mfa")));
    }
    box.append(sessionsBox(u));
    return box;
  }
  /* Open console sessions (an audited read: it shows where from); a lost phone or tablet
     is signed out everywhere with two presses, tokens and password kept. */
  function sessionsBox(u) {
    const box = el("div", { id: "account-sessions" }, el("p", { class: "muted", text: "…" }));
    const draw = (rows) => box.replaceChildren(
      el("p", { text: A.t("accounts.sessions", { n: rows.length }) }),
      rows.length ? el("ul", { class: "account-tokens" }, rows.map((r) => el("li", { text: A.t("accounts.session_line",
        { seen: A.dateTime(r.last_seen_at), since: A.dateTime(r.created_at), addr: r.client_addr || "—" }) }))) : null,
      rows.length ? el("button", { type: "button", class: "btn", id: "account-end-sessions",
        onclick: A.twoPress((button) => act(button, null, async () => {
          const out = await A.api("POST", `/api/v1/users/${u.id}/end-sessions`);
          A.toast(A.t("accounts.sessions_ended", { name: u.username, n: out.ended }), "ok");
          draw([]);
        }), A.t("accounts.end_sessions_confirm")) }, A.t("accounts.end_sessions")) : null);
    A.api("GET", `/api/v1/users/${u.id}/sessions`, undefined, { "X-Access-Reason": REASON })
      .then(draw)
      .catch((err) => box.replaceChildren(el("p", { class: "field-error", text: err.message })));
    return box;
  }
  function tokensBox(u) {
    const list = el("ul", { class: "account-tokens", id: "account-tokens" }, el("li", { class: "muted", text: "…" }));
    const box = el("div", { class: "account-section" }, el("h3", { text: A.t("accounts.tokens") }), list);
    const revoke = (t, button) => act(button, null, async () => {
      await A.api("DELETE", `/api/v1/users/${u.id}/tokens/${t.id}`);
      A.toast(A.t("accounts.revoked", { name: t.name }), "ok");
      list.replaceChildren(...A.tokenItems(await A.api("GET", `/api/v1/users/${u.id}/tokens`), revoke));
    });
    A.api("GET", `/api/v1/users/${u.id}/tokens`).then((tokens) => {
      list.replaceChildren(...A.tokenItems(tokens, revoke));
    }).catch((err) => list.replaceChildren(el("li", { class: "field-error", text: err.message })));
    return box;
  }

  /* Run an action from `button`; a refusal goes to `form` (its fields, `prefix`) or a toast. */
  async function act(button, form, work, prefix) {
    if (button) button.disabled = true;
    try {
      if (form) A.showErrors(form, { errors: [], message: "" }, prefix || "err-");
      await work();
    } catch (err) {
      if (form) A.showErrors(form, err, prefix || "err-"); else A.toast(err.message, "error");
    } finally {
      if (button) button.disabled = false;
    }
  }
  function replace(out) {
    accounts = accounts.map((u) => (u.id === out.id ? out : u));
    if (open === out.id) panelRow = panel(out);
    render();
  }
  function change(u, changes, button, form) {
    return act(button, form, async () => {
      const out = await A.api("PATCH", `/api/v1/users/${u.id}`, changes);
      if (form) { open = null; }
      replace(out);
      A.toast(A.t("accounts.saved", { name: out.username }), "ok");
    }, "err-edit-");
  }
  function render() {
    if (open === null) panelRow = null;
    body.replaceChildren(...shown().map((u) => (u.id === open && panelRow ? panelRow : row(u))));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: A.t("accounts.none") })));
    document.body.dataset.ready = "1";
  }

  const form = document.getElementById("account-new");
  if (form) {
    const password = document.getElementById("new-password");
    document.getElementById("new-generate").addEventListener("click", () => showPassword(password));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = (name) => document.getElementById(`new-${name}`).value.trim();
      const out = { username: value("username"), full_name: value("full_name"), password: password.value,
        roles: checkedRoles(document.getElementById("new-roles")) };
      if (value("email")) out.email = value("email");
      await act(document.getElementById("account-add"), form, async () => {
        const made = await A.api("POST", "/api/v1/users", out);
        accounts = [...accounts, made].sort((a, b) => a.username.localeCompare(b.username));
        form.reset();
        password.type = "password";
        A.toast(A.t("accounts.added", { name: made.username }), "ok");
        render();
      });
    });
  }
  filter.addEventListener("input", render);
  roleFilter.addEventListener("change", render);
  inactive.addEventListener("change", render);
  load().catch((e) => A.toast(e.message, "error"));
})();
