/* Dispatch map: the city pack's own streets and districts (or its bounding box), incidents
   as circles coloured by priority, units as squares coloured by status (the board's colours);
   an optional tile layer when one is configured. */
"use strict";

(function () {
  const A = window.Arverne;
  const PRIORITY_COLOURS = { 1: "#c4141b", 2: "#d35400", 3: "#b7950b", 4: "#4a6a8a" };

  A.makeMap = function (onClick) {
    if (!window.L) {
      document.getElementById("map").append(A.el("p", { class: "map-missing", text: A.t("app.vendor_missing") }));
      return null;
    }
    const L = window.L;
    const [minLon, minLat, maxLon, maxLat] = A.data.bbox;
    const bounds = L.latLngBounds([minLat, minLon], [maxLat, maxLon]);
    const map = L.map("map", {
      preferCanvas: true, zoomSnap: 0.25, attributionControl: Boolean(A.data.tile_url),
      keyboard: true, maxBounds: bounds.pad(0.5),
    });
    map.fitBounds(bounds, { padding: [4, 4] });
    if (A.data.tile_url) {
      L.tileLayer(A.data.tile_url, { attribution: A.data.tile_attribution, maxZoom: 19 }).addTo(map);
    }
    /* City layers in their own pane under the markers, whenever they finish loading. */
    map.createPane("city").style.zIndex = 350;
    const cityRenderer = L.canvas({ pane: "city" });
    const base = L.layerGroup().addTo(map);
    L.rectangle(bounds, { color: "#5d6d7e", weight: 1, fill: false, dashArray: "4 4", interactive: false, renderer: cityRenderer }).addTo(base);
    const drawn = { districts: 0, streets: 0, major: 0 };
    /* The city pack's layers, when the geo API answers; silently the box otherwise. */
    const drawLayer = async (url, name, style) => {
      try {
        const geojson = await A.api("GET", url);
        if (geojson && geojson.features && geojson.features.length) {
          L.geoJSON(geojson, { style: style, interactive: false, renderer: cityRenderer }).addTo(base);
          drawn[name] = geojson.features.length;
        }
      } catch (e) { /* no city pack: the bounding box stays */ }
    };
    drawLayer("/api/v1/geo/districts", "districts", (f) => (f.properties && f.properties.kind === "boundary"
      ? { color: "#34495e", weight: 2, fill: false }
      : { color: "#5d6d7e", weight: 1.5, dashArray: "6 4", fillColor: "#dfe5ea", fillOpacity: 0.35 }));
    /* Streets by OSM class: main roads wide and dark, local streets thin and light. */
    drawLayer("/api/v1/geo/streets", "streets", (f) => {
      const road = (f.properties && (f.properties.highway || f.properties.road_class)) || "";
      if (/motorway|trunk|primary|secondary/.test(road)) { drawn.major += 1; return { color: "#5f6f7e", weight: 3, opacity: 0.9 }; }
      if (/tertiary/.test(road)) return { color: "#7b8a97", weight: 1.8, opacity: 0.85 };
      return { color: "#a3afba", weight: 1, opacity: 0.8 };
    });
    const incidents = L.layerGroup().addTo(map);
    const units = L.layerGroup().addTo(map);
    /* Unit call signs are written on the map only when zoomed in enough to read them. */
    const LABEL_ZOOM = 15;
    const labels = () => map.getContainer().classList.toggle("unit-labels", map.getZoom() >= LABEL_ZOOM);
    map.on("zoomend", labels);
    labels();
    const incidentMarkers = new Map(), unitMarkers = new Map();
    let placing = null, ring = null, ringId = null;
    map.on("click", (event) => onClick && onClick(event.latlng.lng, event.latlng.lat));

    return {
      map: map,
      drawn: drawn,
      upsertIncident(inc, onSelect) {
        let marker = incidentMarkers.get(inc.id);
        const style = {
          radius: inc.priority === 1 ? 9 : 7, color: "#1b2631", weight: 1.5,
          fillColor: PRIORITY_COLOURS[inc.priority] || "#555", fillOpacity: 0.95,
        };
        if (!marker) {
          marker = L.circleMarker([inc.lat, inc.lon], style).addTo(incidents);
          marker.on("click", () => onSelect(inc.id));
          incidentMarkers.set(inc.id, marker);
        } else {
          marker.setLatLng([inc.lat, inc.lon]).setStyle(style);
        }
        marker.unbindTooltip().bindTooltip(`P${inc.priority} ${inc.number} · ${A.typeLabel(inc.type_code)}`);
      },
      removeIncident(id) {
        const marker = incidentMarkers.get(id);
        if (marker) { marker.remove(); incidentMarkers.delete(id); }
        if (id === ringId) this.clearFocus();
      },
      upsertUnit(unit) {
        if (unit.lon === null || unit.lat === null || unit.status === "off_duty") {
          this.removeUnit(unit.id);
          return;
        }
        /* A square in the status colour (as on the unit board), incidents being circles. */
        let marker = unitMarkers.get(unit.id);
        const icon = L.divIcon({
          className: "unit-marker", iconSize: [12, 12], iconAnchor: [6, 6],
          html: `<span class="sq st-${unit.status}"></span><span class="unit-label"></span>`,
        });
        if (!marker) {
          marker = L.marker([unit.lat, unit.lon], { icon: icon, keyboard: false, zIndexOffset: 100, bubblingMouseEvents: true }).addTo(units);
          unitMarkers.set(unit.id, marker);
        } else if (marker._status !== unit.status) {
          marker.setLatLng([unit.lat, unit.lon]).setIcon(icon);
        } else {
          marker.setLatLng([unit.lat, unit.lon]);
        }
        marker._status = unit.status;
        const label = marker.getElement() && marker.getElement().querySelector(".unit-label");
        if (label) label.textContent = unit.call_sign;
        marker.unbindTooltip().bindTooltip(`${unit.call_sign} · ${A.t("status." + unit.status)}`);
      },
      moveUnit(id, lon, lat) {
        const marker = unitMarkers.get(id);
        if (marker) marker.setLatLng([lat, lon]);
      },
      removeUnit(id) {
        const marker = unitMarkers.get(id);
        if (marker) { marker.remove(); unitMarkers.delete(id); }
      },
      setPlacing(lon, lat) {
        if (placing) placing.remove();
        placing = lon === null ? null : L.marker([lat, lon], { keyboard: false, title: A.t("form.placed") }).addTo(map);
      },
      /* Centre the point in the part of the map the side panel leaves visible, ringed. */
      focus(lon, lat, id) {
        const box = map.getContainer().getBoundingClientRect();
        const panel = document.getElementById("side-panel");
        let right = box.width;
        if (panel && !panel.hidden) {
          right = Math.max(box.width / 3, Math.min(box.width, panel.getBoundingClientRect().left - box.left));
        }
        const zoom = map.getZoom();
        map.panTo(map.unproject(map.project([lat, lon], zoom).add([(box.width - right) / 2, 0]), zoom));
        this.clearFocus();
        ringId = id === undefined ? null : id;
        ring = L.circleMarker([lat, lon], { radius: 14, color: "#0b5cad", weight: 3, fill: false, interactive: false }).addTo(map);
      },
      clearFocus() {
        if (ring) ring.remove();
        ring = null; ringId = null;
      },
    };
  };
})();
