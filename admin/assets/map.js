// The fleet map: province outlines shipped with the daemon as the base, every vehicle's last fix
// clustered (chunked loading keeps the page responsive with tens of thousands), coloured by bucket.
(function () {
  const element = document.getElementById("map");
  if (!element) return;
  // Without a tile layer nothing sets the zoom range, which clustering needs.
  const map = L.map(element, { preferCanvas: true, minZoom: 3, maxZoom: 18 }).setView([32, 108], 4);
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
    .then((rows) => {
      const places = L.layerGroup(
        rows.map(([lat, lon, radius, name]) =>
          L.circle([lat, lon], { radius, color: "#b42318", weight: 1, fillOpacity: 0.15 }).bindTooltip(name),
        ),
      ).addTo(map);
      layers.addOverlay(places, element.dataset.layerPlaces || "");
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
