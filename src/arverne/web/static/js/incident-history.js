/* Premise history in the detail panel: the earlier incidents within 50 m of this one over
   a year (merged duplicates left out), a line with the counts, a warning when some call
   for care on arrival (violence, domestic violence, robbery, weapons), and the latest
   ones. Place-based only. Fetched when an incident opens and when it moves; the intake
   form uses A.placeHistoryLine for the place of a new call. */
"use strict";

(function () {
  const A = window.Arverne;
  const el = (...args) => A.el(...args);
  const SHOWN = 8;

  /* One line about a place's history, or null when nothing happened there. */
  A.placeHistoryLine = function (out) {
    if (!out.total) return null;
    const text = out.safety
      ? A.t("history.summary_care", { n: out.total, care: out.safety, last: A.dateTime(out.last_safety_at) })
      : A.t("history.summary", { n: out.total });
    return el("p", { class: out.safety ? "history-line history-care" : "history-line", role: out.safety ? "alert" : null, text: text });
  };

  /* The "history" part of the detail panel, drawn in `section`. */
  A.makePlaceHistory = function (S, section) {
    let inc = null, seq = 0;
    const body = el("div", { id: "d-history-body" });
    section.append(el("h3", { id: "d-history-title", text: A.t("history.title") }), body);

    function item(i) {
      return el("li", { class: i.safety ? "history-item history-care" : "history-item", dataset: { id: i.id } },
        el("span", { class: "time", text: A.dateTime(i.created_at) }), " ",
        el("span", { class: "history-type", text: A.typeLabel(i.type_code) }), " ",
        el("span", { class: "muted", text: `${i.number} · ${i.disposition ? A.t("disposition." + i.disposition) : A.t("incident.status." + i.status)} · ${Math.round(i.distance_m)} m` }));
    }
    async function load() {
      const mine = ++seq, id = inc.id;
      if (!A.can("incident:read")) return;
      try {
        const out = await A.api("GET", `/api/v1/incidents/${id}/place-history?limit=${SHOWN}`);
        if (mine !== seq) return;
        const line = A.placeHistoryLine(out);
        body.replaceChildren(line || el("p", { class: "muted", id: "d-history-none", text: A.t("history.none") }));
        if (out.incidents.length) body.append(el("ul", { class: "history", id: "d-history-list" }, out.incidents.map(item)));
      } catch (e) {
        if (mine === seq) body.replaceChildren(el("p", { class: "muted", text: A.t("history.unavailable") }));
      }
    }
    return {
      open(incident) { inc = incident; body.replaceChildren(); load(); },
      refresh(incident) {
        const moved = !inc || inc.lon !== incident.lon || inc.lat !== incident.lat;
        inc = incident;
        if (moved) load();
      },
    };
  };
})();
