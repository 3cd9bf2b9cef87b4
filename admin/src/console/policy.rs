//! The console's content security policy, and the one outside origin it may allow: the company's
//! own map tile server.

/// What the browser may load and do on console pages: scripts and styles from this site only (no
/// inline script, so injected markup cannot run), no framing, no guessing of media types; images
/// also from the company's tile server when one is configured. Inline styles are allowed: the map
/// and the reference page set them.
pub fn policy(tile_origin: Option<&str>) -> String {
    let tiles = tile_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:{tiles}; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The origin (`https://host[:port]`) of a tile URL template, if it is a plain http(s) URL.
pub fn tile_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '{' | '}');
    let fine = matches!(scheme, "http" | "https") && !host.is_empty() && host.chars().all(plain);
    // `{s}` subdomains stand for any subdomain of the host.
    fine.then(|| format!("{scheme}://{}", host.replace("{s}", "*")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_server_is_allowed_images_and_nothing_else() {
        assert_eq!(
            tile_origin("https://tiles.example.com/{z}/{x}/{y}.png").as_deref(),
            Some("https://tiles.example.com")
        );
        assert_eq!(
            tile_origin("http://{s}.tile.local:8081/{z}/{x}/{y}.png").as_deref(),
            Some("http://*.tile.local:8081")
        );
        for refused in ["javascript:alert(1)", "https://a.com;script-src *", "ftp://x/{z}", "https:///{z}", "tiles/{z}"]
        {
            assert_eq!(tile_origin(refused), None, "{refused}");
        }
        let with = policy(Some("https://tiles.example.com"));
        assert!(with.contains("img-src 'self' data: blob: https://tiles.example.com;"), "{with}");
        assert!(with.contains("script-src 'self';") && !policy(None).contains("tiles"));
    }
}
