/* Analyst page: Gi* hot spots or a stored forecast's ranked cells on the map (chosen
   coverage), weekly trend and hour x weekday heat grid, the backtest table and its form,
   the forecast log and the concentration monitor. Everything comes from /api/v1/analysis. */
"use strict";

(function () {
  const A = window.Arverne;
  const D = A.data;
  const $ = (id) => document.getElementById(id);
  const API = "/api/v1/analysis";
  const charts = {};
  const num = (x, digits) => (x === null || x === undefined || Number.isNaN(Number(x)) ? "—" : Number(x).toFixed(digits));
  const share = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)} %`);
  const pctLabel = (c) => A.t("an.pct", { n: Math.round(c * 1000) / 10 });
  const methodLabel = (m) => A.t("an.m." + m);
  const interval = (ci, digits) => (ci && ci[0] !== null && ci[0] !== undefined ? ` [${num(ci[0], digits)}–${num(ci[1], digits)}]` : "");

  function query() {
    const params = new URLSearchParams({ days: $("an-days").value });
    if ($("an-category").value) params.append("category", $("an-category").value);
    return params;
  }
  const categories = () => ($("an-category").value ? [$("an-category").value] : null);

  /* Map: the dispatch screen's base map, one overlay of grid cells. */
  const view = A.makeMap ? A.makeMap(null) : null;
  let overlay = null;
  function showCells(geojson, style, tip) {
    const features = (geojson && geojson.features) || [];
    $("map").dataset.cells = String(features.length);
    if (!view) return;
    if (overlay) overlay.remove();
    overlay = window.L.geoJSON({ type: "FeatureCollection", features: features }, {
      style: style,
      onEachFeature: (feature, layer) => layer.bindTooltip(tip(feature.properties)),
    }).addTo(view.map);
  }
  const layer = () => document.querySelector("input[name='an-layer']:checked").value;

  async function drawHotSpots() {
    const params = query();
    params.set("method", "gi");
    params.set("cell_m", $("an-cell").value);
    const out = await A.api("GET", `${API}/hotspots?${params}`);
    const hot = out.geojson || { features: [] };
    showCells(hot, (f) => ({
      color: "#7b241c", weight: 1, fillOpacity: 0.6,
      fillColor: f.properties.z >= 3.29 ? "#922b21" : f.properties.z >= 2.58 ? "#cb4335" : "#f0b27a",
    }), (p) => A.t("an.hot_tip", { count: p.count, z: num(p.z, 2), q: num(p.q, 3) }));
    const excluded = Object.values(out.excluded_categories || {}).reduce((a, b) => a + b, 0);
    $("an-map-note").textContent = A.t("an.map_hot", {
      n: hot.features.length, events: out.n_events || 0, excluded: excluded,
    });
  }

  async function drawForecast() {
    const method = $("an-map-method").value;
    const coverage = Number($("an-coverage").value);
    const runs = await A.api("GET", `${API}/forecasts?method=${method}&status=ok&limit=1`);
    if (!runs.length) {
      showCells(null, {}, () => "");
      $("an-map-note").textContent = A.t("an.map_no_forecast", { method: methodLabel(method) });
      return;
    }
    const run = runs[0];
    const nValid = (run.record.grid || {}).n_valid || 0;
    const k = Math.floor(coverage * nValid + 1e-9);
    /* Cells ranked only by the random split of zero-expectation ties are not drawn. */
    const top = ((run.top_cells || {}).features || []).filter((f) => f.properties.rank <= k);
    const ranked = top.filter((f) => f.properties.expected > 0);
    $("map").dataset.ranked = String(top.length);
    showCells({ features: ranked }, (f) => ({
      color: "#1a3d6d", weight: 1, fillColor: f.properties.rank <= k / 4 ? "#0b3d91" : "#5d8fd6", fillOpacity: 0.55,
    }), (p) => A.t("an.fc_tip", { rank: p.rank, expected: num(p.expected, 2), low: p.lower_90, high: p.upper_90 }));
    let note = A.t("an.map_forecast", {
      n: ranked.length, coverage: pctLabel(coverage), method: methodLabel(method),
      who: run.created_by, when: A.dateTime(run.created_at), until: A.dateTime(run.horizon_end),
    });
    if (ranked.length < top.length) note += " " + A.t("an.map_zero", { n: top.length - ranked.length });
    if (run.coverage + 1e-9 < coverage) note += " " + A.t("an.map_capped", { coverage: pctLabel(run.coverage) });
    $("an-map-note").textContent = note;
  }
  const drawMap = () => (layer() === "forecast" ? drawForecast() : drawHotSpots());

  /* Trend (weekly counts, rolling mean) and the hour x weekday heat grid. */
  function chart(id, config) {
    if (!window.Chart) return;
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: "bottom" } } }, config.options || {});
    charts[id] = new window.Chart($(id), config);
  }
  function heatCell(value, max) {
    /* White to dark blue; the text takes whichever of black or white contrasts more. */
    const x = max > 0 ? value / max : 0;
    const rgb = [247 - x * 239, 251 - x * 203, 255 - x * 148].map(Math.round);
    const lin = rgb.map((v) => { const c = v / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    const lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    const ink = (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000" : "#fff";
    const cell = A.el("td", { text: value });
    cell.style.background = `rgb(${rgb.join(",")})`; /* CSSOM, allowed by the CSP */
    cell.style.color = ink;
    return cell;
  }
  function heatmap(hm) {
    const table = $("an-heat");
    const caption = table.querySelector("caption");
    const head = A.el("tr", {}, A.el("th", { scope: "col", text: A.t("an.hour_day") }),
      ...hm.hours.map((h) => A.el("th", { scope: "col", text: h })));
    const max = Math.max(0, ...hm.counts.flat());
    const rows = hm.counts.map((row, i) => A.el("tr", {}, A.el("th", { scope: "row", text: A.t("an.wd." + i) }),
      ...row.map((v) => heatCell(v, max))));
    table.replaceChildren(caption, A.el("thead", {}, head), A.el("tbody", {}, rows));
  }
  async function drawStats() {
    const out = await A.api("GET", `${API}/stats?${query()}`);
    if (!out.summary) {
      $("an-trend-text").textContent = A.t("an.no_events");
      chart("an-trend", { type: "bar", data: { labels: [], datasets: [] } });
      heatmap({ hours: [...Array(24).keys()], counts: Array.from({ length: 7 }, () => Array(24).fill(0)) });
      return;
    }
    const trend = out.summary.trend;
    chart("an-trend", {
      type: "bar",
      data: {
        labels: trend.map((r) => String(r.period).slice(0, 10)),
        datasets: [
          { label: A.t("an.weekly"), data: trend.map((r) => r.count), backgroundColor: "#85c1e9" },
          { label: A.t("an.rolling"), type: "line", data: trend.map((r) => r.rolling_mean),
            borderColor: "#1a3d6d", backgroundColor: "#1a3d6d", pointRadius: 0, tension: 0.3 },
        ],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: A.t("an.per_week") } } } },
    });
    $("an-trend-text").textContent = A.t("an.trend_text", { n: out.n_events, weeks: trend.length });
    heatmap(out.heatmap);
  }

  /* Backtest table: methods x coverages (HR, PAI, PEI with 95 % intervals), the oracle. */
  function renderBacktest(item) {
    const table = $("an-bt-table");
    const caption = table.querySelector("caption");
    if (!item) { table.replaceChildren(caption); $("an-bt-meta").textContent = A.t("an.bt_none"); return; }
    const run = item.run, tab = item.table, rec = run.record || {};
    $("an-bt-meta").textContent = A.t("an.bt_meta", {
      who: run.created_by, when: A.dateTime(run.created_at), why: run.reason,
      windows: rec.windows, horizon: rec.horizon_days, train: rec.train_days, cell: run.cell_m,
      events: tab ? tab.n_events : run.n_training_events,
    });
    if (!tab) {
      table.replaceChildren(caption, A.el("tbody", {}, A.el("tr", {}, A.el("td", { class: "an-failed", text: A.t("an.bt_failed", { error: run.error || "" }) }))));
      table.dataset.status = run.status;
      return;
    }
    const head = A.el("tr", {}, A.el("th", { scope: "col", text: A.t("an.col_method") }),
      A.el("th", { scope: "col", text: A.t("an.col_status") }),
      ...tab.coverages.map((c) => A.el("th", { scope: "col", text: A.t("an.pct", { n: c.replace("%", "") }) })),
      A.el("th", { scope: "col", text: A.t("an.log_score") }));
    const rows = tab.rows.map((row) => {
      const cells = [A.el("th", { scope: "row", text: methodLabel(row.method) }),
        A.el("td", { text: A.t("an.status." + row.status) + (row.fallbacks.length ? ` (${A.t("an.fallback")})` : "") })];
      if (row.status !== "ok") {
        cells.push(A.el("td", { colspan: tab.coverages.length + 1, class: "an-failed", text: row.error || "" }));
      } else {
        for (const c of tab.coverages) {
          const s = row.cells[c] || {};
          cells.push(A.el("td", { class: "an-metrics" },
            A.el("span", { text: `${A.t("an.hr")} ${num(s.hit_rate, 3)}${interval(s.hit_rate_ci95, 3)}` }),
            A.el("span", { text: `${A.t("an.pai")} ${num(s.pai, 2)}${interval(s.pai_ci95, 2)}` }),
            A.el("span", { text: `${A.t("an.pei")} ${num(s.pei, 2)}${interval(s.pei_ci95, 2)}` })));
        }
        cells.push(A.el("td", { text: num(row.log_score, 4) }));
      }
      return A.el("tr", { dataset: { method: row.method, status: row.status } }, cells);
    });
    rows.push(A.el("tr", { class: "an-oracle", dataset: { method: "oracle" } },
      A.el("th", { scope: "row", text: A.t("an.oracle") }), A.el("td", { text: "—" }),
      ...tab.coverages.map((c) => A.el("td", { text: `${A.t("an.hr")} ${num(tab.oracle[c], 3)}` })),
      A.el("td", { text: "—" })));
    table.replaceChildren(caption, A.el("thead", {}, head), A.el("tbody", {}, rows));
    table.dataset.status = run.status;
  }
  async function loadBacktest() {
    const items = await A.api("GET", `${API}/backtests?limit=1`);
    renderBacktest(items[0] || null);
  }

  /* Forecast log and monitor. */
  async function loadLog() {
    const runs = await A.api("GET", `${API}/forecasts?limit=20`);
    const rows = runs.map((r) => A.el("tr", { dataset: { id: r.id, method: r.method, status: r.status } },
      A.el("td", { text: A.dateTime(r.created_at) }), A.el("td", { text: r.created_by }),
      A.el("td", { text: methodLabel(r.method) }), A.el("td", { text: A.t("an.status." + r.status) }),
      A.el("td", { text: r.reason }),
      A.el("td", { text: r.status === "failed" ? r.error || "" : A.t("an.log_detail", {
        events: r.n_training_events, coverage: pctLabel(r.coverage), cell: r.cell_m }) })));
    if (!rows.length) rows.push(A.el("tr", {}, A.el("td", { colspan: 6, class: "empty", text: A.t("an.log_empty") })));
    document.querySelector("#an-log-table tbody").replaceChildren(...rows);
  }
  async function loadMonitor() {
    const out = await A.api("GET", `${API}/monitor`);
    const list = $("an-warnings");
    if (!out.report) {
      list.replaceChildren(A.el("li", { class: "muted", text: A.t("an.monitor_none", { runs: out.runs }) }));
      return;
    }
    const warnings = out.report.warnings || [];
    list.replaceChildren(...(warnings.length
      ? warnings.map((w) => A.el("li", { class: "an-warning", text: w }))
      : [A.el("li", { text: A.t("an.monitor_ok", { runs: out.runs }) })]));
  }

  /* Forms: run a forecast, run a backtest (each logged with its reason). */
  function problemText(error) {
    const fields = (error.errors || []).map((e) => `${e.field.replace(/^body\./, "")}: ${e.message}`);
    return fields.length ? fields.join("; ") : error.message;
  }
  async function submit(form, button, errorBox, reasonInput, reasonError, send) {
    errorBox.textContent = "";
    reasonError.textContent = "";
    if (reasonInput.value.trim().length < 3) {
      reasonError.textContent = A.t("an.reason_required");
      reasonInput.setAttribute("aria-invalid", "true");
      reasonInput.focus();
      return;
    }
    reasonInput.removeAttribute("aria-invalid");
    button.disabled = true;
    const label = button.textContent;
    button.textContent = A.t("an.running");
    try {
      await send();
      reasonInput.value = "";
    } catch (error) {
      errorBox.textContent = problemText(error);
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }
  const runForm = $("an-run-form");
  if (runForm) {
    runForm.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(runForm, $("an-run"), $("an-run-error"), $("f-reason"), $("f-reason-error"), async () => {
        const out = await A.api("POST", `${API}/forecasts`, {
          method: $("f-method").value, horizon_days: Number($("f-horizon").value),
          cell_m: Number($("f-cell").value), coverage: Number($("f-coverage").value),
          reason: $("f-reason").value.trim(), categories: categories(),
        });
        if (out.run.status === "ok") {
          A.toast(A.t("an.run_ok"), "ok");
          document.querySelector("input[name='an-layer'][value='forecast']").checked = true;
          $("an-map-method").value = out.run.method;
          if (Number($("an-coverage").value) > out.run.coverage) $("an-coverage").value = String(out.run.coverage);
        } else {
          A.toast(A.t("an.run_failed", { error: out.run.error }), "error");
        }
        await Promise.all([loadLog(), loadMonitor(), drawMap()]);
      });
    });
  }
  const btForm = $("an-bt-form");
  if (btForm) {
    btForm.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(btForm, $("an-bt-run"), $("an-bt-error"), $("b-reason"), $("b-reason-error"), async () => {
        const methods = [...btForm.querySelectorAll("input[name='methods']:checked")].map((i) => i.value);
        if (!methods.length) throw new Error(A.t("an.methods_required"));
        const out = await A.api("POST", `${API}/backtests`, {
          methods: methods, train_days: Number($("b-train").value), horizon_days: Number($("b-horizon").value),
          windows: Number($("b-windows").value), cell_m: Number($("b-cell").value),
          reason: $("b-reason").value.trim(), categories: categories(),
        });
        renderBacktest(out);
        await loadLog();
      });
    });
  }

  /* Controls. */
  const safely = (promise) => promise.catch((e) => A.toast(e.message, "error"));
  $("an-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    safely(Promise.all([drawMap(), drawStats()]));
  });
  for (const input of document.querySelectorAll("input[name='an-layer']")) {
    input.addEventListener("change", () => safely(drawMap()));
  }
  $("an-map-method").addEventListener("change", () => safely(drawMap()));
  $("an-coverage").addEventListener("change", () => safely(drawMap()));

  Promise.allSettled([drawMap(), drawStats(), loadBacktest(), loadLog(), loadMonitor()]).then((results) => {
    for (const r of results) if (r.status === "rejected") A.toast(r.reason.message, "error");
    $("an-updated").textContent = A.t("dash.updated", { time: A.time(A.now().toISOString()) });
    document.body.dataset.ready = "1";
  });
})();
