//! A file to download: its type, and a name the browser keeps whatever its characters (an ASCII
//! fallback for old clients, the UTF-8 name for the rest).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `name` percent-encoded for `filename*` (RFC 5987): everything but unreserved characters.
fn encoded(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `bytes` as an attachment named `name`, of `content_type`.
pub fn attachment(content_type: &str, name: &str, bytes: Vec<u8>) -> Response {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", encoded(name));
    ([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_name_survives_in_the_utf8_form() {
        let response = attachment("application/pdf", "HT-1-违约通知函.pdf", Vec::new());
        let value = response.headers()[header::CONTENT_DISPOSITION].to_str().unwrap_or_default().to_owned();
        assert!(value.starts_with("attachment; filename=\"HT-1-_____.pdf\""), "{value}");
        assert!(value.ends_with("filename*=UTF-8''HT-1-%E8%BF%9D%E7%BA%A6%E9%80%9A%E7%9F%A5%E5%87%BD.pdf"), "{value}");
    }
}
