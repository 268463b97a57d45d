/* Offence codes for the close form: type a NATINF number or words, pick from the codes
   in force on the day of the first call (GET /api/v1/offence-codes), remove with the
   chip's button. Arrow keys move in the list, Enter adds, Escape closes it. */
"use strict";

(function () {
  const A = window.Arverne;
  const el = (...args) => A.el(...args);
  const dayFmt = new Intl.DateTimeFormat("en-CA", { timeZone: A.data.tz, year: "numeric", month: "2-digit", day: "2-digit" });

  A.makeOffencePicker = function (firstCallAt) {
    const picked = new Map();  /* code -> label, in the order chosen */
    const on = dayFmt.format(new Date(firstCallAt));
    const input = el("input", {
      type: "search", id: "d-offence-q", autocomplete: "off", role: "combobox",
      "aria-expanded": "false", "aria-controls": "d-offence-list", "aria-autocomplete": "list",
      "aria-describedby": "err-c-offence_codes", placeholder: A.t("offence.placeholder"),
    });
    const list = el("ul", { id: "d-offence-list", class: "offence-list", role: "listbox", hidden: true });
    const chips = el("ul", { id: "d-offences", class: "offence-chips", "aria-live": "polite" });
    const hint = el("p", { class: "hint", id: "d-offence-hint" });
    let found = [], active = -1, timer = null, asked = 0;

    function renderChips() {
      chips.replaceChildren(...[...picked].map(([code, label]) =>
        el("li", { class: "chip", dataset: { code: code } },
          el("span", { text: `${code} · ${label}` }),
          el("button", {
            type: "button", class: "chip-remove", "aria-label": A.t("offence.remove", { code: code }), text: "×",
            onclick: () => { picked.delete(code); renderChips(); input.focus(); },
          }))));
    }
    function close() {
      list.hidden = true; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function choose(offence) {
      picked.set(offence.code, offence.label);
      renderChips();
      input.value = ""; hint.textContent = "";
      close(); input.focus();
    }
    function renderList() {
      list.replaceChildren(...found.map((o, i) =>
        el("li", {
          id: `d-offence-${i}`, role: "option", class: i === active ? "active" : null,
          "aria-selected": i === active ? "true" : "false", dataset: { code: o.code },
          onmousedown: (e) => { e.preventDefault(); choose(o); },
        }, el("strong", { text: o.code }), ` ${o.label} `, el("span", { class: "muted", text: o.category }))));
      list.hidden = !found.length;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      if (active >= 0) input.setAttribute("aria-activedescendant", `d-offence-${active}`);
    }
    async function search() {
      const q = input.value.trim();
      if (!q) { found = []; hint.textContent = ""; close(); return; }
      const mine = ++asked;
      try {
        const params = new URLSearchParams({ q: q, on: on, limit: "8" });
        const answer = await A.api("GET", `/api/v1/offence-codes?${params}`);
        if (mine !== asked) return;  /* a later keystroke already asked again */
        found = answer.filter((o) => !picked.has(o.code));
        active = found.length ? 0 : -1;
        hint.textContent = answer.length ? "" : A.t("offence.none", { q: q });
        renderList();
      } catch (err) {
        if (mine === asked) hint.textContent = err.message;
      }
    }
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 150); });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        if (!found.length) return;
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : found.length - 1)) % found.length;
        renderList();
      } else if (e.key === "Enter") {
        e.preventDefault();  /* never submits the close form from here */
        if (active >= 0 && !list.hidden) choose(found[active]);
      } else if (e.key === "Escape" && !list.hidden) {
        e.preventDefault(); e.stopPropagation(); close();
      }
    });
    input.addEventListener("blur", () => setTimeout(close, 100));

    return {
      nodes: [
        el("label", { for: "d-offence-q", text: A.t("offence.label") }),
        el("div", { class: "offence-picker" }, input, list),
        hint, chips,
        el("p", { class: "field-error", id: "err-c-offence_codes" }),
      ],
      codes: () => [...picked.keys()],
    };
  };
})();
