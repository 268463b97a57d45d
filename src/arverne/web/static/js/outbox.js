/* Outbox (file d'attente hors réseau) of the crew terminal. In a tunnel, a car park or a
   dead zone the network goes; what the crew does meanwhile must not be lost. Each report
   (status change, note, position) is kept on the device (localStorage: a reload or a
   closed tab keeps it too), in order, with the time it was made (the device's clock
   corrected to the server's, A.now) and an Idempotency-Key,
   and sent as soon as the network is back: the server records it at the crew's time and
   applies it once even when an answer was lost on the way. What the server refuses when
   it finally arrives (the unit's status changed meanwhile, a change too old) stays on
   screen until the crew has read it: nothing is dropped silently.
   Things that must not arrive late are not queued: a distress call or an answer to a
   status check says at once that it was not sent (use the radio). */
"use strict";

(function () {
  const A = window.Arverne;
  const RETRY_MS = 10000;        // while something waits, try again this often
  const MAX_POSITIONS = 40;      // positions kept while offline (10 min at one per 15 s)

  /* `owner` scopes the stored queue (one user's reports are never sent as another's);
     `onChange` redraws; `onSent(item, answer)` applies an answer that came late. */
  A.Outbox = function (owner, onChange, onSent) {
    const storeKey = `arverne.outbox.${owner}`;
    const load = () => {
      try { return JSON.parse(localStorage.getItem(storeKey)) || { items: [], failed: [] }; } catch (e) { return { items: [], failed: [] }; }
    };
    const state = load();
    let sending = false, timer = null;
    const save = () => {
      localStorage.setItem(storeKey, JSON.stringify(state));
      onChange(state);
    };
    /* Kept for later: no network, the session ended (sent again after signing in), too
       many requests, the server restarting. Any other refusal is the server's answer. */
    const retryable = (err) => !(err instanceof A.ApiError) || [0, 401, 408, 429].includes(err.status) || err.status >= 500;

    /* Send one item (a queued one with the time it was made); throws what the API threw. */
    const deliver = (item, late) =>
      A.api(item.method, item.url, late ? { ...item.body, at: item.at } : item.body, { "Idempotency-Key": item.key });

    async function flush() {
      if (sending || !state.items.length) return;
      sending = true;
      clearTimeout(timer);
      try {
        while (state.items.length) {
          const item = state.items[0];
          let answer;
          try {
            answer = await deliver(item, true);
          } catch (err) {
            if (retryable(err)) break;  // still offline (or the server restarting): later
            state.items.shift();
            if (!item.quiet) state.failed.push({ ...item, error: err.message });
            save();
            continue;
          }
          state.items.shift();
          save();
          onSent(item, answer);
        }
      } finally {
        sending = false;
        if (state.items.length) timer = setTimeout(flush, RETRY_MS);
      }
    }

    return {
      state,
      /* Queue `item` ({method, url, body, label, kind, unitId, quiet}) and try to send the
         queue; a `quiet` item (an automatic report: a position) refused on arrival is
         dropped rather than shown.
         Resolves to the answer when the item went at once, to null when it waits.
         Refused at once (4xx), it is not kept: the caller shows the error. */
      async send(item) {
        const entry = { ...item, key: A.newKey(), at: (item.body && item.body.at) || A.now().toISOString() };
        if (!state.items.length && !sending && navigator.onLine !== false) {
          try {
            return await deliver(entry, false);
          } catch (err) {
            if (!retryable(err)) throw err;
          }
        }
        if (entry.kind === "position") {
          const positions = state.items.filter((i) => i.kind === "position");
          if (positions.length >= MAX_POSITIONS) state.items.splice(state.items.indexOf(positions[0]), 1);
        }
        state.items.push(entry);
        save();
        clearTimeout(timer);
        if (!sending && navigator.onLine !== false) flush();  // behind others still waiting
        else timer = setTimeout(flush, RETRY_MS);
        return null;
      },
      flush,
      pending: (kind) => state.items.filter((i) => !kind || i.kind === kind),
      dismiss() { state.failed = []; save(); },
    };
  };
})();
