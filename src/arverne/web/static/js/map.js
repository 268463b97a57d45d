/* Dispatch map: the city pack's own streets and districts (or its bounding box), incidents
   coloured by priority, units by status; an optional tile layer when one is configured. */
"use strict";

(function () {
  const A = window.Arverne;
  const PRIORITY_COLOURS = { 1: "#c4141b", 2: "#d35400", 3: "#b7950b", 4: "#4a6a8a" };
  const STATUS_COLOURS = {
    available: "#1e8449", at_station: "#2e86c1", dispatched: "#8e44ad", en_route: "#6c3483",
    on_scene: "#a04000", transporting: "#7d6608", unavailable: "#7f8c8d", off_duty: "#aab7b8",
  };

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
    map.fitBounds(bounds);
    if (A.data.tile_url) {
      L.tileLayer(A.data.tile_url, { attribution: A.data.tile_attribution, maxZoom: 19 }).addTo(map);
    }
    const base = L.layerGroup().addTo(map);
    L.rectangle(bounds, { color: "#5d6d7e", weight: 1, fill: false, dashArray: "4 4", interactive: false }).addTo(base);
    /* The city pack's layers, when the geo API answers; silently the box otherwise. */
    const drawLayer = async (url, style) => {
      try {
        const geojson = await A.api("GET", url);
        if (geojson && geojson.features && geojson.features.length) {
          L.geoJSON(geojson, { style: style, interactive: false }).addTo(base);
        }
      } catch (e) { /* no city pack: the bounding box stays */ }
    };
    drawLayer("/api/v1/geo/districts", () => ({ color: "#85929e", weight: 1.5, fillColor: "#d6dbdf", fillOpacity: 0.25 }));
    drawLayer("/api/v1/geo/streets", (f) => ({
      color: "#7b8a97", weight: f.properties && /primary|trunk|secondary/.test(f.properties.highway || f.properties.road_class || "") ? 2.5 : 1,
      opacity: 0.8,
    }));
    const incidents = L.layerGroup().addTo(map);
    const units = L.layerGroup().addTo(map);
    const incidentMarkers = new Map(), unitMarkers = new Map();
    let placing = null;
    map.on("click", (event) => onClick && onClick(event.latlng.lng, event.latlng.lat));

    return {
      map: map,
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
      },
      upsertUnit(unit) {
        if (unit.lon === null || unit.lat === null || unit.status === "off_duty") {
          this.removeUnit(unit.id);
          return;
        }
        const colour = STATUS_COLOURS[unit.status] || "#555";
        let marker = unitMarkers.get(unit.id);
        const style = { radius: 5, color: "#ffffff", weight: 2, fillColor: colour, fillOpacity: 1 };
        if (!marker) {
          marker = L.circleMarker([unit.lat, unit.lon], style).addTo(units);
          unitMarkers.set(unit.id, marker);
        } else {
          marker.setLatLng([unit.lat, unit.lon]).setStyle(style);
        }
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
      focus(lon, lat) {
        map.panTo([lat, lon]);
      },
    };
  };
})();
