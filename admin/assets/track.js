// The repossession agent's live view: one vehicle, where it is now, refreshed every 30 s until the
// link dies (the order closed, the link revoked or expired), when the page says so.
(function () {
  const element = document.getElementById("track-map");
  if (!element) return;
  const map = L.map(element, { minZoom: 3, maxZoom: 18 }).setView([32, 108], 4);
  if (element.dataset.tileUrl) L.tileLayer(element.dataset.tileUrl, { maxZoom: 18 }).addTo(map);
  fetch("/assets/provinces.geojson")
    .then((r) => r.json())
    .then((provinces) => {
      L.geoJSON(provinces, { style: { color: "#7b8794", weight: 1, fillColor: "#e4e7eb", fillOpacity: 0.6 } })
        .addTo(map)
        .bringToBack();
    });
  let marker = null;
  const status = document.getElementById("track-status");
  const refresh = () =>
    fetch(element.dataset.source)
      .then((r) => {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then((seen) => {
        if (seen.latitude == null) {
          status.textContent = element.dataset.noFix;
          return;
        }
        const at = [seen.latitude, seen.longitude];
        if (!marker) {
          marker = L.marker(at).addTo(map);
          map.setView(at, 16);
        } else {
          marker.setLatLng(at);
        }
        status.textContent = `${seen.plate || ""} · ${new Date(seen.fix_time).toLocaleString()} · ${seen.latitude.toFixed(5)}, ${seen.longitude.toFixed(5)}`;
      })
      .catch(() => {
        status.textContent = element.dataset.dead;
        clearInterval(timer);
      });
  const timer = setInterval(refresh, 30000);
  refresh();
})();
