/* Split another event out of an incident: a folded form in the detail panel. The new
   incident gets a type, an optional address (else the same place), the calls that were
   about it and the units now working on it; a reason is required. */
"use strict";

(function () {
  const A = window.Arverne;
  const el = (...args) => A.el(...args);

  /* The form for incident `inc` (null when it cannot be split by this user). */
  A.splitForm = function (S, inc) {
    if (!A.can("incident:dispatch")) return null;
    const type = el("select", { id: "d-split-type", "aria-describedby": "err-s-type_code" },
      el("option", { value: "", text: A.t("split.choose_type") }), ...A.typeOptgroups());
    const address = el("input", { id: "d-split-address", autocomplete: "off", maxlength: "300",
      placeholder: A.t("split.same_place"), "aria-describedby": "err-s-address" });
    const reason = el("input", { id: "d-split-reason", autocomplete: "off", maxlength: "500", "aria-describedby": "err-s-reason" });
    const box = (name, value, label) => el("label", { class: "split-choice" },
      el("input", { type: "checkbox", name: name, value: value }), " ", label);
    const calls = inc.calls.length > 1 ? el("fieldset", { class: "split-set", id: "d-split-calls", "aria-describedby": "err-s-call_ids" },
      el("legend", { text: A.t("split.calls") }),
      inc.calls.map((c) => box("call", c.id,
        `${A.time(c.received_at)} · ${A.t("channel." + c.channel)} · ${c.description || A.t("detail.no_description")}`)),
      el("p", { class: "field-error", id: "err-s-call_ids" })) : null;
    const active = inc.assignments.filter((a) => !a.released_at);
    const units = active.length ? el("fieldset", { class: "split-set", id: "d-split-units", "aria-describedby": "err-s-unit_ids" },
      el("legend", { text: A.t("split.units") }),
      active.map((a) => box("unit", a.unit_id, a.call_sign)),
      el("p", { class: "field-error", id: "err-s-unit_ids" })) : null;
    const form = el("form", { id: "split-form", class: "split-form", novalidate: true },
      el("p", { class: "muted", text: A.t("split.help", { number: inc.number }) }),
      el("label", { for: "d-split-type", text: A.t("split.type") }), type,
      el("p", { class: "field-error", id: "err-s-type_code" }),
      el("label", { for: "d-split-address", text: A.t("split.address") }), address,
      el("p", { class: "field-error", id: "err-s-address" }),
      calls, units,
      el("label", { for: "d-split-reason", text: A.t("split.reason") }), reason,
      el("p", { class: "field-error", id: "err-s-reason" }),
      el("p", { class: "form-error", role: "alert" }),
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "btn", id: "split-submit", text: A.t("split.submit") })));
    const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => Number(i.value));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = form.querySelector("#split-submit");
      if (button.disabled) return;
      const missing = [];
      if (!type.value) missing.push({ field: "type_code", message: A.t("split.required_type") });
      if (!reason.value.trim()) missing.push({ field: "reason", message: A.t("split.required_reason") });
      if (missing.length) {
        A.showErrors(form, { errors: missing }, "err-s-");
        (type.value ? reason : type).focus();
        return;
      }
      const body = { type_code: type.value, reason: reason.value.trim(), call_ids: checked("call"), unit_ids: checked("unit") };
      if (address.value.trim()) body.address = address.value.trim();
      button.disabled = true;
      try {
        const out = await A.api("POST", `/api/v1/incidents/${inc.id}/split`, body);
        S.upsertIncident(out.source);
        S.upsertIncident(out.created);
        for (const id of body.unit_ids) A.api("GET", `/api/v1/units/${id}`).then(S.upsertUnit).catch(() => {});
        A.toast(A.t("split.done", { number: out.created.number, from: out.source.number }), "ok");
        S.select(out.created.id);
      } catch (err) { A.showErrors(form, err, "err-s-"); button.disabled = false; }
    });
    return el("details", { class: "split", id: "d-split-details" },
      el("summary", { text: A.t("split.title") }), form);
  };
})();
