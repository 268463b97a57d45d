/* Supervisor dashboard: open incidents by priority, unit availability, crew safety (with
   an audible escalation of distress calls and unanswered checks), response times against
   targets today and over 30 days; refreshed from the live stream. */
"use strict";

(function () {
  const A = window.Arverne;
  const D = A.data;
  const PRIOS = ["1", "2", "3", "4"];
  const PRIO_COLOURS = ["#c4141b", "#d35400", "#b7950b", "#4a6a8a"];
  const STATUS = ["available", "at_station", "dispatched", "en_route", "on_scene", "transporting", "unavailable"];
  const STATUS_COLOURS = ["#1e8449", "#2e86c1", "#8e44ad", "#6c3483", "#a04000", "#7d6608", "#7f8c8d"];
  const charts = {};
  const minutes = (s) => (s === null || s === undefined ? null : Math.round(s / 6) / 10);
  const pct = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)} %`);

  function chart(id, config) {
    if (!window.Chart) return;
    if (charts[id]) { charts[id].data = config.data; charts[id].update("none"); return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: "bottom" } } }, config.options || {});
    charts[id] = new window.Chart(document.getElementById(id), config);
  }
  function responseChart(id, kpi) {
    const groups = kpi.groups || {};
    chart(id, {
      type: "bar",
      data: {
        labels: PRIOS.map((p) => `P${p}`),
        datasets: [
          { label: A.t("dash.median"), backgroundColor: "#2e86c1",
            data: PRIOS.map((p) => minutes(groups[`P${p}`] && groups[`P${p}`].total.p50_s)) },
          { label: A.t("dash.p90"), backgroundColor: "#85c1e9",
            data: PRIOS.map((p) => minutes(groups[`P${p}`] && groups[`P${p}`].total.p90_s)) },
          { label: A.t("dash.target"), type: "line", borderColor: "#c4141b", backgroundColor: "#c4141b",
            pointStyle: "line", pointRadius: 12, showLine: false, data: PRIOS.map((p) => minutes(D.targets[p])) },
        ],
      },
      options: { scales: { y: { type: "logarithmic", title: { display: true, text: A.t("dash.minutes") } } } },
    });
  }
  async function load() {
    const [open, units, today, month] = await Promise.all([
      A.can("incident:read") ? A.api("GET", "/api/v1/incidents?status=open&limit=2000") : [],
      A.can("unit:read") ? A.api("GET", "/api/v1/units") : [],
      A.api("GET", `/api/v1/kpi/response-times?since=${encodeURIComponent(D.today_since)}`),
      A.api("GET", "/api/v1/kpi/response-times"),
    ]);
    const byPrio = PRIOS.map((p) => open.filter((i) => String(i.priority) === p).length);
    chart("c-open", { type: "bar", data: { labels: PRIOS.map((p) => `P${p}`),
      datasets: [{ label: A.t("dash.open"), data: byPrio, backgroundColor: PRIO_COLOURS }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
    document.getElementById("c-open-text").textContent = A.t("dash.open_text", { n: open.length });
    const byStatus = STATUS.map((s) => units.filter((u) => u.status === s).length);
    chart("c-units", { type: "doughnut", data: { labels: STATUS.map((s) => A.t("status." + s)),
      datasets: [{ data: byStatus, backgroundColor: STATUS_COLOURS }] } });
    const free = byStatus[0] + byStatus[1], onDuty = byStatus.reduce((a, b) => a + b, 0);
    document.getElementById("c-units-text").textContent = A.t("dash.units_text", { free: free, total: onDuty });
    /* Crew safety: status checks overdue or unanswered, distress calls still open. */
    const now = A.now().getTime();
    const late = units.filter((u) => u.check_due_at && !u.check_missed_at && Date.parse(u.check_due_at) <= now).length;
    const missed = units.filter((u) => u.check_missed_at).length;
    const distress = open.filter((i) => i.type_code === "officer_distress").length;
    const safety = document.getElementById("c-safety-text");
    const silent = units.filter((u) => u.check_missed_at).map((u) => u.call_sign).sort();
    safety.textContent = A.t("dash.safety_text", { late: late, missed: missed, distress: distress }) +
      (silent.length ? " — " + A.t("dash.safety_missed_units", { units: silent.join(", ") }) : "");
    safety.classList.toggle("kpi-alert", late + missed + distress > 0);
    escalate(open, units);
    responseChart("c-today", today);
    responseChart("c-month", month);
    const rows = PRIOS.map((p) => {
      const t = (today.groups[`P${p}`] || {}).total || {}, m = (month.groups[`P${p}`] || {}).total || {};
      return A.el("tr", {}, A.el("th", { scope: "row", text: `P${p}` }),
        A.el("td", { text: A.duration(D.targets[p]) }),
        A.el("td", { text: t.n || 0 }), A.el("td", { text: t.p50_s ? A.duration(t.p50_s) : "—" }),
        A.el("td", { text: pct(t.within_target) }), A.el("td", { text: m.n || 0 }),
        A.el("td", { text: m.p50_s ? A.duration(m.p50_s) : "—" }),
        A.el("td", { text: m.p90_s ? A.duration(m.p90_s) : "—" }), A.el("td", { text: pct(m.within_target) }));
    });
    document.querySelector("#kpi-table tbody").replaceChildren(...rows);
    document.getElementById("dash-updated").textContent = A.t("dash.updated", { time: A.time(A.now().toISOString()) });
    document.body.dataset.ready = "1";
  }
  /* Escalation: the siren of an open distress call and a beep for each unanswered status
     check (alarm.js), with the same sound switch as the dispatch screen. */
  const S = { incidents: new Map(), units: new Map() };
  function escalate(open, units) {
    S.incidents = new Map(open.map((i) => [i.id, i]));
    S.units = new Map(units.map((u) => [u.id, u]));
    if (!S.alarm) {
      S.checks = A.makeUnitChecks(S);
      S.alarm = A.makeAlarm(S, { p1: false, checks: ["missed"] });
      setInterval(() => S.alarm.refresh(), 1000);
    }
    S.alarm.refresh();
  }
  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(() => load().catch(() => {}), 1500); };
  load().catch((e) => A.toast(e.message, "error"));
  A.live(null, { "incident.created": soon, "incident.updated": soon, "unit.updated": soon }, soon);
})();
