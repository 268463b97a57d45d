/* Distress calls (appel de détresse): every open "officer needs assistance" incident is
   shown in a red banner above the queue until it is closed; a dispatcher relaying a radio
   call raises one from the unit's actions (two clicks: the second confirms). */
"use strict";

(function () {
  const A = window.Arverne;
  const TYPE = "officer_distress";
  const OPEN = new Set(["queued", "dispatched", "en_route", "on_scene"]);

  A.makeDistress = function (S) {
    const banner = document.getElementById("distress-banner");
    let shown = "";

    function refresh() {
      if (!banner) return;
      const open = [...S.incidents.values()].filter((i) => i.type_code === TYPE && OPEN.has(i.status))
        .sort((a, b) => a.id - b.id);
      const key = JSON.stringify(open.map((i) => [i.id, i.status, i.address, i.street]));
      if (key === shown) return;
      shown = key;
      banner.replaceChildren(...open.map((inc) => A.el("p", { class: "distress-item", dataset: { id: inc.id } },
        A.el("strong", { text: A.t("distress.title") }),
        A.el("span", { text: ` ${inc.description || ""} — ${A.incidentPlace(inc)} — ${A.t("incident.status." + inc.status)}` }),
        A.el("button", { type: "button", class: "btn btn-small", onclick: () => S.select(inc.id) },
          A.t("distress.open", { number: inc.number })))));
      banner.hidden = open.length === 0;
    }
    /* In a unit's actions: the first click asks for confirmation, the second raises it. */
    function button(unit) {
      if (!A.can("unit:status_any") || unit.status === "off_duty") return null;
      const b = A.el("button", { type: "button", class: "btn btn-small btn-danger distress-btn", dataset: { distress: unit.id } }, A.t("distress.raise"));
      b.addEventListener("click", async () => {
        if (!b.dataset.armed) {
          b.dataset.armed = "1";
          b.textContent = A.t("distress.confirm", { unit: unit.call_sign });
          return;
        }
        b.disabled = true;
        try {
          const out = await A.api("POST", `/api/v1/units/${unit.id}/distress`, {});
          S.upsertIncident(out.incident);
          A.toast(A.t(out.created ? "distress.raised" : "distress.already", { unit: unit.call_sign, number: out.incident.number }), "error");
          S.select(out.incident.id);
        } catch (e) {
          A.toast(e.message, "error");
          b.disabled = false;
        }
      });
      return b;
    }
    return { refresh: refresh, button: button, type: TYPE };
  };
})();
