/* Status checks (contrôle de situation): a committed unit's timer runs from its last status
   change or answered check (`check_due_at`, computed by the server). When it runs out the
   unit's row turns amber and the unit joins the alert list above the board; a check left
   without an answer turns it red until the crew answers or reports a new status. */
"use strict";

(function () {
  const A = window.Arverne;

  A.makeUnitChecks = function (S) {
    const box = document.getElementById("check-alerts");
    const list = document.getElementById("check-list");
    let shown = "";

    /* "" (no timer or not due), "due" or "missed". */
    function level(unit) {
      if (!unit.check_due_at || unit.status === "off_duty") return "";
      if (unit.check_missed_at) return "missed";
      return A.now().getTime() >= Date.parse(unit.check_due_at) ? "due" : "";
    }
    /* What the timer cell says: `short` for the board's row, the full words for the list. */
    function label(unit, short) {
      const state = level(unit);
      if (state === "missed") return A.t("checks.missed");
      if (state !== "due") return "";
      const late = A.duration(A.since(unit.check_due_at));
      return short ? `⚠ +${late}` : A.t("checks.due", { time: late });
    }
    async function answer(unit, outcome, button) {
      button.disabled = true;
      try {
        S.upsertUnit(await A.api("POST", `/api/v1/units/${unit.id}/check`, { outcome: outcome }));
        A.toast(A.t(outcome === "ok" ? "checks.done_ok" : "checks.done_missed", { unit: unit.call_sign }),
          outcome === "ok" ? "info" : "error");
      } catch (e) {
        A.toast(e.message, "error");
        button.disabled = false;
      }
    }
    /* The two answers, for the board's action row, the incident panel and the alert list. */
    function buttons(unit) {
      if (!unit.check_due_at || !A.can("unit:status_any")) return null;
      return A.el("span", { class: "check-buttons", role: "group", "aria-label": A.t("checks.group", { unit: unit.call_sign }) },
        A.el("button", { type: "button", class: "btn btn-small check-ok", onclick: (e) => answer(unit, "ok", e.currentTarget) }, A.t("checks.ok")),
        A.el("button", { type: "button", class: "btn btn-small btn-danger check-missed-btn", onclick: (e) => answer(unit, "no_answer", e.currentTarget) }, A.t("checks.no_answer")));
    }
    function alertItem(unit) {
      const state = level(unit);
      const incident = unit.current_incident_id ? S.incidents.get(unit.current_incident_id) : null;
      return A.el("li", { class: `check-alert check-${state}`, dataset: { unit: unit.id } },
        A.el("span", { class: "call-sign", text: unit.call_sign }),
        A.el("span", { class: "check-what", text: A.t("status." + unit.status) + " · " + A.duration(A.since(unit.status_changed_at)) }),
        A.el("span", { class: "check-time", text: label(unit) }),
        incident ? A.el("button", { type: "button", class: "btn btn-small btn-ghost", onclick: () => S.select(incident.id),
          "aria-label": A.t("checks.open_incident", { number: incident.number }) }, incident.number.slice(-6)) : null,
        buttons(unit));
    }
    /* Called every second and after each change: rebuilds the list only when its members or
       their state change, and otherwise only refreshes the times. */
    function refresh() {
      if (!box) return;
      const due = [...S.units.values()].filter((u) => level(u) !== "")
        .sort((a, b) => (level(a) === "missed" ? 0 : 1) - (level(b) === "missed" ? 0 : 1) ||
          Date.parse(a.check_due_at) - Date.parse(b.check_due_at));
      const key = JSON.stringify(due.map((u) => [u.id, level(u), u.check_due_at, u.current_incident_id]));
      if (key !== shown) {
        shown = key;
        list.replaceChildren(...due.map(alertItem));
        box.hidden = due.length === 0;
        document.getElementById("checks-count").textContent = String(due.length);
        return;
      }
      for (const item of list.children) {
        const unit = S.units.get(Number(item.dataset.unit));
        if (!unit) continue;
        item.querySelector(".check-time").textContent = label(unit);
        item.querySelector(".check-what").textContent = A.t("status." + unit.status) + " · " + A.duration(A.since(unit.status_changed_at));
      }
    }
    return { level: level, label: label, buttons: buttons, refresh: refresh };
  };
})();
