/* Correct an open incident: a folded form in the detail panel to change its type,
   priority, description or address (the situation turned out other than the first call
   said, or the caller gave the wrong street). Only what changed is sent; lowering the
   priority needs a reason, as the server requires; the duty log keeps old and new.
   Reopen a closed or cancelled one (closed by mistake, the event resumed), with a reason;
   the server refuses it once the reopening window has passed and says what to do. */
"use strict";

(function () {
  const A = window.Arverne;
  const el = (...args) => A.el(...args);

  /* The form for incident `inc` (null when this user may not correct incidents). */
  A.editForm = function (S, inc) {
    if (!A.can("incident:update")) return null;
    const type = el("select", { id: "d-edit-type", "aria-describedby": "err-e-type_code" }, ...A.typeOptgroups());
    type.value = inc.type_code;
    const prio = el("select", { id: "d-edit-priority", "aria-describedby": "err-e-priority" },
      [1, 2, 3, 4].map((p) => el("option", { value: String(p), text: A.t("edit.priority_" + p) })));
    prio.value = String(inc.priority);
    const description = el("textarea", { id: "d-edit-description", rows: "2", maxlength: "5000",
      "aria-describedby": "err-e-description" });
    description.value = inc.description || "";
    const address = el("input", { id: "d-edit-address", autocomplete: "off", maxlength: "300",
      placeholder: A.incidentPlace(inc), "aria-describedby": "err-e-address" });
    const reason = el("input", { id: "d-edit-reason", autocomplete: "off", maxlength: "300", "aria-describedby": "err-e-reason" });
    const form = el("form", { id: "edit-form", class: "split-form", novalidate: true },
      el("p", { class: "muted", text: A.t("edit.help", { number: inc.number }) }),
      el("label", { for: "d-edit-type", text: A.t("edit.type") }), type,
      el("p", { class: "field-error", id: "err-e-type_code" }),
      el("label", { for: "d-edit-priority", text: A.t("edit.priority") }), prio,
      el("p", { class: "field-error", id: "err-e-priority" }),
      el("label", { for: "d-edit-description", text: A.t("edit.description") }), description,
      el("p", { class: "field-error", id: "err-e-description" }),
      el("label", { for: "d-edit-address", text: A.t("edit.address") }), address,
      el("p", { class: "field-error", id: "err-e-address" }),
      el("label", { for: "d-edit-reason", text: A.t("edit.reason") }), reason,
      el("p", { class: "field-error", id: "err-e-reason" }),
      el("p", { class: "form-error", role: "alert" }),
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "btn", id: "edit-submit", text: A.t("edit.submit") })));
    /* A new type brings its default priority, unless the dispatcher chose one. */
    let prioTouched = false;
    prio.addEventListener("change", () => { prioTouched = true; });
    type.addEventListener("change", () => {
      const t = S.types.get(type.value);
      if (t && !prioTouched) prio.value = String(t.priority);
    });
    form.addEventListener("input", () => { form.querySelector(".form-error").textContent = ""; });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = form.querySelector("#edit-submit");
      if (button.disabled) return;
      const body = {};
      if (type.value !== inc.type_code) body.type_code = type.value;
      if (Number(prio.value) !== inc.priority) body.priority = Number(prio.value);
      if (description.value.trim() !== (inc.description || "")) body.description = description.value.trim();
      if (address.value.trim()) body.address = address.value.trim();
      if (!Object.keys(body).length) {
        A.showErrors(form, { errors: [{ field: "", message: A.t("edit.nothing") }] }, "err-e-");
        return;
      }
      if (body.priority > inc.priority && !reason.value.trim()) {
        A.showErrors(form, { errors: [{ field: "reason", message: A.t("edit.required_reason") }] }, "err-e-");
        reason.focus();
        return;
      }
      if (reason.value.trim()) body.reason = reason.value.trim();
      button.disabled = true;
      try {
        const out = await A.api("PATCH", `/api/v1/incidents/${inc.id}`, body);
        form.closest("details").open = false;
        S.upsertIncident(out);
        A.toast(A.t("edit.done", { number: out.number }), "ok");
      } catch (err) { A.showErrors(form, err, "err-e-"); button.disabled = false; }
    });
    /* A partner's call whose nature is not known yet: the form waits open for it. */
    const toQualify = inc.type_code === "to_qualify";
    const details = el("details", { class: "split", id: "d-edit-details" },
      el("summary", { text: A.t(toQualify ? "edit.title_to_qualify" : "edit.title") }), form);
    details.open = toQualify;
    return details;
  };

  /* The reopening form of a closed or cancelled incident (null if it cannot be). */
  A.reopenForm = function (S, inc) {
    if (!A.can("incident:close") || inc.merged_into || !["closed", "cancelled"].includes(inc.status)) return null;
    const reason = el("input", { id: "d-reopen-reason", autocomplete: "off", maxlength: "500", "aria-describedby": "err-r-reason" });
    const form = el("form", { id: "reopen-form", class: "split-form", novalidate: true },
      el("p", { class: "muted", text: A.t("reopen.help", { number: inc.number, hours: A.data.reopen_window_hours }) }),
      el("label", { for: "d-reopen-reason", text: A.t("reopen.reason") }), reason,
      el("p", { class: "field-error", id: "err-r-reason" }),
      el("p", { class: "form-error", role: "alert" }),
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "btn", id: "reopen-submit", text: A.t("reopen.submit") })));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = form.querySelector("#reopen-submit");
      if (button.disabled) return;
      if (!reason.value.trim()) {
        A.showErrors(form, { errors: [{ field: "reason", message: A.t("reopen.required_reason") }] }, "err-r-");
        reason.focus();
        return;
      }
      button.disabled = true;
      try {
        const out = await A.api("POST", `/api/v1/incidents/${inc.id}/reopen`, { reason: reason.value.trim() });
        form.closest("details").open = false;
        S.upsertIncident(out);
        A.toast(A.t("reopen.done", { number: out.number }), "ok");
      } catch (err) { A.showErrors(form, err, "err-r-"); button.disabled = false; }
    });
    return el("details", { class: "split", id: "d-reopen-details" },
      el("summary", { text: A.t("reopen.title") }), form);
  };
})();
