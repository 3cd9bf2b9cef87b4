// The fleet map: province outlines shipped with the daemon as the base, every vehicle's last fix
// clustered (chunked loading keeps the page responsive with tens of thousands), coloured by bucket.
(function () {
  const element = document.getElementById("map");
  if (!element) return;
  // Without a tile layer nothing sets the zoom range, which clustering needs.
  const map = L.map(element, { preferCanvas: true, minZoom: 3, maxZoom: 18 }).setView([32, 108], 4);
  // The track player below draws on the same map.
  window.leasewatchMap = map;
  // A tile server of the company's own, when configured, under everything else.
  if (element.dataset.tileUrl) L.tileLayer(element.dataset.tileUrl, { maxZoom: 18 }).addTo(map);
  // Layers the user can switch: the province outlines, the vehicles, the risk locations.
  const layers = L.control.layers(null, null, { collapsed: false }).addTo(map);
  fetch("/assets/provinces.geojson")
    .then((r) => r.json())
    .then((provinces) => {
      const outlines = L.geoJSON(provinces, {
        style: { color: "#7b8794", weight: 1, fillColor: "#e4e7eb", fillOpacity: 0.6 },
      }).addTo(map);
      outlines.bringToBack();
      layers.addOverlay(outlines, element.dataset.layerProvinces || "");
    });
  fetch("/map/places.json", { credentials: "same-origin" })
    .then((r) => r.json())
    .then((found) => {
      const places = L.layerGroup(
        found.risk_locations.map(([lat, lon, radius, name]) =>
          L.circle([lat, lon], { radius, color: "#b42318", weight: 1, fillOpacity: 0.15 }).bindTooltip(name),
        ),
      ).addTo(map);
      layers.addOverlay(places, element.dataset.layerPlaces || "");
      const style = { color: "#6941c6", weight: 2, fillOpacity: 0.05, dashArray: "4 4" };
      const fences = L.layerGroup(
        found.geofences.map(([name, shape]) => {
          const fence = shape.circle
            ? L.circle([shape.circle.latitude, shape.circle.longitude], { radius: shape.circle.radius_m, ...style })
            : L.polygon((shape.polygon || []).map(([lon, lat]) => [lat, lon]), style);
          return fence.bindTooltip(name);
        }),
      ).addTo(map);
      layers.addOverlay(fences, element.dataset.layerFences || "");
    });
  const colours = ["#067647", "#b54708", "#b42318", "#7a271a"];
  // Markers are added in chunks between frames; when the last chunk is in, the page says so
  // (data-rendered-ms: milliseconds since navigation, read by scripts/bench-map).
  const clusters = L.markerClusterGroup({
    chunkedLoading: true,
    showCoverageOnHover: false,
    chunkProgress: (processed, total) => {
      if (total > 0 && processed === total) element.dataset.renderedMs = String(Math.round(performance.now()));
    },
  });
  map.addLayer(clusters);
  layers.addOverlay(clusters, element.dataset.layerVehicles || "");
  const count = document.getElementById("map-count");
  const label = element.dataset.vehicleLabel || "";

  function load(query) {
    delete element.dataset.renderedMs;
    clusters.clearLayers();
    fetch("/map/vehicles.json?" + query, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((rows) => {
        const markers = rows.map(([id, lat, lon, bucket, alerts, name]) => {
          const colour = colours[Math.min(bucket || 0, colours.length - 1)];
          const marker = L.circleMarker([lat, lon], { radius: alerts > 0 ? 7 : 5, color: colour, fillOpacity: 0.8 });
          const link = document.createElement("a");
          link.href = "/vehicles/" + id;
          link.textContent = label + " " + name;
          marker.bindPopup(link);
          return marker;
        });
        if (markers.length === 0) element.dataset.renderedMs = String(Math.round(performance.now()));
        clusters.addLayers(markers);
        count.textContent = String(rows.length);
        element.dataset.loaded = String(rows.length);
      })
      .catch((error) => {
        element.dataset.error = String(error);
      });
  }

  const form = document.getElementById("map-filters");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) query.append(key, value);
    load(query.toString());
  });
  load("");
})();

// A vehicle's track for a chosen day (the map opened as /map?vehicle=ID): the path, its stops and
// alarms marked, and a marker played back along it.
(function () {
  const form = document.getElementById("track-form");
  const element = document.getElementById("map");
  if (!form || !element || !element._leaflet_id) return;
  const map = window.leasewatchMap;
  const slider = document.getElementById("track-at");
  const summary = document.getElementById("track-summary");
  const layer = L.layerGroup().addTo(map);
  let points = [];
  let cursor = null;
  let timer = null;

  function place(i) {
    const p = points[i];
    if (!p) return;
    cursor.setLatLng([p[1], p[2]]);
    summary.textContent = new Date(p[0]).toLocaleString() + " · " + Math.round(p[3]) + " km/h";
  }

  function show(track) {
    layer.clearLayers();
    points = track.points;
    element.dataset.trackPoints = String(points.length);
    slider.max = String(Math.max(points.length - 1, 0));
    slider.value = "0";
    summary.textContent = points.length + " " + (element.dataset.pointsLabel || "");
    if (points.length === 0) return;
    const path = L.polyline(points.map((p) => [p[1], p[2]]), { color: "#175cd3", weight: 3 }).addTo(layer);
    for (const [lat, lon, from, to] of track.stops) {
      const minutes = Math.round((to - from) / 60000);
      L.circleMarker([lat, lon], { radius: 6, color: "#344054", fillColor: "#fff", fillOpacity: 1 })
        .bindTooltip((element.dataset.stopLabel || "") + " " + minutes + " min, " + new Date(from).toLocaleTimeString())
        .addTo(layer);
    }
    for (const p of points.filter((p) => p[4] !== 0)) {
      L.circleMarker([p[1], p[2]], { radius: 5, color: "#b42318", fillColor: "#b42318", fillOpacity: 1 })
        .bindTooltip((element.dataset.alarmLabel || "") + " " + new Date(p[0]).toLocaleTimeString())
        .addTo(layer);
    }
    cursor = L.circleMarker([points[0][1], points[0][2]], { radius: 8, color: "#175cd3", fillOpacity: 1 }).addTo(layer);
    map.fitBounds(path.getBounds(), { maxZoom: 15 });
  }

  function load() {
    const query = new URLSearchParams({ vehicle_id: form.dataset.vehicle, day: document.getElementById("track-day").value });
    fetch("/map/track.json?" + query, { credentials: "same-origin" })
      .then((r) => r.json())
      .then(show)
      .catch((error) => {
        element.dataset.error = String(error);
      });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  slider.addEventListener("input", () => place(Number(slider.value)));
  document.getElementById("track-play").addEventListener("click", () => {
    if (timer) {
      clearInterval(timer);
      timer = null;
      return;
    }
    timer = setInterval(() => {
      const next = Number(slider.value) + 1;
      if (next >= points.length) {
        clearInterval(timer);
        timer = null;
        return;
      }
      slider.value = String(next);
      place(next);
    }, 100);
  });
  load();
})();
