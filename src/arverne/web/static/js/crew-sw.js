/* Service worker of the crew terminal (served as /console/crew-sw.js, scope
   /console/crew). A phone's browser often reloads a tab it had put aside; in a dead zone
   that reload would leave the crew with an error page. So the terminal page, its scripts
   and styles, and the last answers of the reads it makes (its unit, its incident, that
   incident's duty log and place history, the map layers) are kept on the device, and
   answer when the network does not: network first, always, so nothing older than the
   network's answer is ever shown while online. Writes are never touched (outbox.js keeps
   them), nor the live stream. Only the terminal's own requests are kept (the scope also
   covers /console/crews). Cleared at sign-out and on the sign-in page (common.js,
   login.js). */
"use strict";

const CACHE = "arverne-crew-v1";
const PAGE = "/console/crew";
const READS = [
  /^\/api\/v1\/units\/mine$/,
  /^\/api\/v1\/units$/,
  /^\/api\/v1\/incidents\/\d+$/,
  /^\/api\/v1\/incidents\/\d+\/place-history$/,
  /^\/api\/v1\/dutylog$/,
  /^\/api\/v1\/geo\/(streets|districts)$/,
];

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

async function fromTerminal(event) {
  if (event.request.mode === "navigate") return new URL(event.request.url).pathname === PAGE;
  const client = event.clientId ? await self.clients.get(event.clientId) : null;
  return !!client && new URL(client.url).pathname === PAGE;
}

async function networkFirst(event, key) {
  if (!(await fromTerminal(event))) return fetch(event.request);
  try {
    const response = await fetch(event.request);
    if (response.ok && response.type === "basic") {
      const copy = response.clone();
      event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)));
    }
    return response;
  } catch (error) {
    const kept = await caches.match(key, { ignoreVary: true });
    if (!kept) throw error;
    /* Marked, so that its old Date header is not taken for the server's clock (common.js). */
    const headers = new Headers(kept.headers);
    headers.set("X-Arverne-Kept", "1");
    return new Response(kept.body, { status: kept.status, statusText: kept.statusText, headers });
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const page = request.mode === "navigate" && url.pathname === PAGE;
  const kept = page || url.pathname.startsWith("/static/") || READS.some((r) => r.test(url.pathname));
  if (!kept) return;
  event.respondWith(networkFirst(event, page ? PAGE : request));
});
