//! The files the console and `/docs` load, embedded in the binary at build time so that nothing
//! is fetched from another host: browser libraries from the pinned npm packages in
//! `admin/assets/package-lock.json`, and the console's own scripts and styles beside them.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file: its path under `/assets/`, media type and bytes.
pub struct Asset {
    /// Path under `/assets/`.
    pub path: &'static str,
    /// Media type.
    pub media_type: &'static str,
    /// Content.
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $media_type:expr, $file:literal) => {
        Asset {
            path: $path,
            media_type: $media_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file served under `/assets/`.
pub static ASSETS: &[Asset] = &[
    asset!("alerts.js", JS, "alerts.js"),
    asset!("console.css", CSS, "console.css"),
    asset!("console.js", JS, "console.js"),
    asset!("docs.js", JS, "docs.js"),
    asset!("map.js", JS, "map.js"),
    asset!("track.js", JS, "track.js"),
    asset!("provinces.geojson", "application/geo+json", "../../data/provinces.geojson"),
    asset!("htmx.min.js", JS, "node_modules/htmx.org/dist/htmx.min.js"),
    asset!("swagger-ui/swagger-ui-bundle.js", JS, "node_modules/swagger-ui-dist/swagger-ui-bundle.js"),
    asset!("swagger-ui/swagger-ui.css", CSS, "node_modules/swagger-ui-dist/swagger-ui.css"),
    asset!("leaflet/leaflet.js", JS, "node_modules/leaflet/dist/leaflet.js"),
    asset!("leaflet/leaflet.css", CSS, "node_modules/leaflet/dist/leaflet.css"),
    asset!("leaflet/images/layers.png", "image/png", "node_modules/leaflet/dist/images/layers.png"),
    asset!("leaflet/images/layers-2x.png", "image/png", "node_modules/leaflet/dist/images/layers-2x.png"),
    asset!("leaflet/images/marker-icon.png", "image/png", "node_modules/leaflet/dist/images/marker-icon.png"),
    asset!("leaflet/images/marker-icon-2x.png", "image/png", "node_modules/leaflet/dist/images/marker-icon-2x.png"),
    asset!("leaflet/images/marker-shadow.png", "image/png", "node_modules/leaflet/dist/images/marker-shadow.png"),
    asset!("leaflet/markercluster.js", JS, "node_modules/leaflet.markercluster/dist/leaflet.markercluster.js"),
    asset!("leaflet/MarkerCluster.css", CSS, "node_modules/leaflet.markercluster/dist/MarkerCluster.css"),
    asset!(
        "leaflet/MarkerCluster.Default.css",
        CSS,
        "node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css"
    ),
];

/// The embedded file at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// `GET /assets/{*path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    match find(&path) {
        Some(asset) => {
            ([(header::CONTENT_TYPE, asset.media_type), (header::CACHE_CONTROL, "public, max-age=86400")], asset.bytes)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
