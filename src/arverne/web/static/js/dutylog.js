/* Duty log (main courante): new entries matching the filters are appended live. */
"use strict";

(function () {
  const A = window.Arverne;
  const D = A.data;
  if (!D.live) return;
  const table = document.getElementById("log-table");
  const body = table && table.querySelector("tbody");
  if (!body) return;
  const f = D.filters;
  const since = Date.parse(D.window[0]), until = Date.parse(D.window[1]);
  let count = D.count;

  function matches(entry) {
    const at = Date.parse(entry.at);
    return at >= since && at < until &&
      (!f.unit_id || entry.unit_id === f.unit_id) &&
      (!f.incident_id || entry.incident_id === f.incident_id) &&
      (!f.kind || entry.kind === f.kind);
  }
  function row(entry) {
    const text = A.el("td", {});
    if (entry.corrects_id) text.append(A.el("span", { class: "tag", text: A.t("dutylog.corrects", { id: entry.corrects_id }) }), " ");
    text.append(entry.text);
    const link = entry.incident_id
      ? A.el("a", { href: `/console/log?incident_id=${entry.incident_id}&date=${encodeURIComponent(f.date)}`, text: `#${entry.incident_id}` })
      : null;
    return A.el("tr", { class: "fresh", dataset: { kind: entry.kind, id: entry.id } },
      A.el("td", {}, A.el("time", { datetime: entry.at, text: A.time(entry.at) })),
      A.el("td", { text: A.t("kind." + entry.kind) }),
      A.el("td", {}, link),
      A.el("td", { text: entry.unit_id ? D.unit_names[String(entry.unit_id)] || String(entry.unit_id) : "" }),
      text,
      A.el("td", { text: entry.author }));
  }
  function append(entry) {
    if (!matches(entry) || body.querySelector(`tr[data-id="${entry.id}"]`)) return;
    const empty = body.querySelector("td.empty");
    if (empty) empty.parentElement.remove();
    /* Oldest first: follow the end of the log if the reader is there, else stay put. */
    const atEnd = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 40;
    const line = row(entry);
    body.append(line);
    if (atEnd) line.scrollIntoView({ block: "end" });
    setTimeout(() => line.classList.remove("fresh"), 4000);
    count += 1;
    document.getElementById("log-count").textContent = A.t("dutylog.count", { n: count, zone: D.zone });
  }
  A.dutylog = { append: append };
  A.live(D.last_event_id, { "log.appended": append });
})();
