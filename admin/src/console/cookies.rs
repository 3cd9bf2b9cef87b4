//! Reading the cookies a request sent.

use axum::http::{HeaderMap, header};

/// The value of cookie `name`, if the request sent it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; lw_session=tok; lw_lang=en".parse().unwrap());
        assert_eq!(cookie(&headers, "lw_session"), Some("tok"));
        assert_eq!(cookie(&headers, "lw_lang"), Some("en"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
