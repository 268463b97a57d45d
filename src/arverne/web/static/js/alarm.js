/* Audible alarms. `A.tones` plays short synthesised tones (Web Audio, so no sound file is
   shipped) and remembers on this device whether the sound is on; browsers only let a page
   make sound after a click or a key press on it, so the first one unlocks it.
   `A.tones.log` keeps what was sounded (or would have been, with the sound off), for the
   tests. Used by the crew terminal (a new dispatch, a status check due) and by the alarms
   of the dispatch screen below, for a dispatcher who is looking elsewhere: a siren every
   few seconds while a crew's distress call is open and not acknowledged, three beeps for a
   new P1 incident taken by someone else, two beeps when a committed unit's status check
   falls due or is left without an answer. The button above the queue turns the sound on
   or off and, while the siren runs, acknowledges it; the visual alarms (banner, colours)
   stay whatever the sound does. The supervisor's dashboard uses the same alarms for
   escalation: distress calls and unanswered checks. */
"use strict";

(function () {
  const A = window.Arverne;
  const KEY = "arverne.sound";
  const SIREN_EVERY_MS = 4000;
  const DISTRESS = "officer_distress";
  const OPEN = new Set(["queued", "dispatched", "en_route", "on_scene"]);
  const PATTERNS = {
    distress: [[880, 250], [660, 250], [880, 250], [660, 250]],
    p1: [[1000, 120], [0, 80], [1000, 120], [0, 80], [1000, 120]],
    check: [[700, 150], [0, 100], [700, 150]],
    dispatch: [[784, 180], [0, 60], [1047, 180], [0, 60], [1319, 320]],
  };

  const log = [];
  let audio = null, on = localStorage.getItem(KEY) !== "off";
  function unlock() {
    if (!audio) {
      const Context = window.AudioContext || window.webkitAudioContext;
      try { audio = Context ? new Context() : null; } catch (e) { audio = null; }
    }
    if (audio && audio.state === "suspended") audio.resume().catch(() => {});
  }
  document.addEventListener("pointerdown", unlock, { capture: true });
  document.addEventListener("keydown", unlock, { capture: true });
  function play(kind) {
    const audible = on && !!audio && audio.state === "running";
    log.push({ kind: kind, at: Date.now(), audible: audible, sound: on });
    if (log.length > 500) log.shift();  // a long shift: keep the latest
    if (!audible) return;
    let t = audio.currentTime + 0.02;
    for (const [freq, ms] of PATTERNS[kind]) {
      if (freq) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = kind === "distress" ? "sawtooth" : "sine";
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.25, t + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + ms / 1000);
        osc.connect(gain).connect(audio.destination);
        osc.start(t);
        osc.stop(t + ms / 1000 + 0.02);
      }
      t += ms / 1000;
    }
  }
  /* The sound switch `button` (an element with aria-pressed), if the page has one; `onDraw`
     runs after each change. */
  function bindToggle(button, onDraw) {
    const draw = () => {
      const label = A.t(on ? "alarm.sound_on" : "alarm.sound_off");
      if (button.textContent !== label) button.textContent = label;
      button.setAttribute("aria-pressed", String(on));
      if (onDraw) onDraw();
    };
    button.addEventListener("click", () => {
      on = !on;
      localStorage.setItem(KEY, on ? "on" : "off");
      unlock();
      draw();
    });
    draw();
    return draw;
  }
  A.tones = { log: log, play: play, bindToggle: bindToggle, unlock: unlock };

  /* `S` holds `incidents` and `units` (Maps by id) and `checks.level(unit)`. Options:
     `p1` (beep for new P1 incidents, default true) and `checks` (the status-check levels
     that beep, default ["due", "missed"]; the supervisor's dashboard uses ["missed"]). */
  A.makeAlarm = function (S, options) {
    const opts = Object.assign({ p1: true, checks: ["due", "missed"] }, options || {});
    const button = document.getElementById("sound-toggle");
    const ack = document.getElementById("alarm-ack");
    let ringing = false, lastSiren = 0;
    const acknowledged = new Set();
    const sounded = new Set();   // status-check alarms already sounded: "unit:due_at:level"
    const seen = new Set([...S.incidents.keys()]);  // incidents present at load are not "new"

    function mark() {  // the siren on the switch, and the acknowledge button
      if (!button) return;
      if (ringing) button.dataset.ringing = "distress"; else delete button.dataset.ringing;
      if (ack) ack.hidden = !ringing;
    }
    const draw = button ? bindToggle(button, mark) : mark;  // drawn every second
    function openDistress() {
      return [...S.incidents.values()].filter((i) => i.type_code === DISTRESS && OPEN.has(i.status));
    }
    /* Called after each render and every second. */
    function refresh() {
      const pending = openDistress().filter((i) => !acknowledged.has(i.id));
      ringing = pending.length > 0;
      if (ringing && Date.now() - lastSiren >= SIREN_EVERY_MS) { lastSiren = Date.now(); play("distress"); }
      for (const unit of S.units.values()) {
        const level = S.checks.level(unit);
        if (!opts.checks.includes(level)) continue;
        const key = `${unit.id}:${unit.check_due_at}:${level}`;
        if (!sounded.has(key)) { sounded.add(key); play("check"); }
      }
      draw();
    }
    /* An incident that arrives live: three beeps for a P1 someone else took. */
    function arrived(inc) {
      if (seen.has(inc.id)) return;
      seen.add(inc.id);
      if (!opts.p1 || inc.type_code === DISTRESS || inc.priority !== 1 || !OPEN.has(inc.status)) return;
      const takers = (inc.calls || []).map((c) => c.taken_by);
      if (!takers.includes(A.data.user)) play("p1");
    }
    /* Units already due when the page opens are on the board in colour: no beep for them. */
    for (const unit of S.units.values()) {
      const level = S.checks.level(unit);
      if (level) sounded.add(`${unit.id}:${unit.check_due_at}:${level}`);
    }
    if (ack) ack.addEventListener("click", () => {
      for (const inc of openDistress()) acknowledged.add(inc.id);
      refresh();
    });
    draw();
    A.alarm = { log: log, refresh: refresh, arrived: arrived };
    return A.alarm;
  };
})();
