//! Texts with figures named in braces (`{customer_name}`), as letters and reminders write them:
//! which names a text uses that are not known, and the text with the figures filled in.

/// The names in braces in `text` that are not in `known`.
pub fn unknown(text: &str, known: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !known.contains(&name) {
            found.push(name.to_owned());
        }
        rest = &after[close + 1..];
    }
    found
}

/// `text` with each `{name}` replaced by its value in `figures`.
pub fn fill(text: &str, figures: &[(&str, String)]) -> String {
    figures.iter().fold(text.to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_filled_and_unknown_names_found() {
        let body = "{customer_name}：合同 {contract_number} 欠款 {arrears} 元";
        let filled = fill(
            body,
            &[("customer_name", "李四".into()), ("contract_number", "HT-1".into()), ("arrears", "1,200.00".into())],
        );
        assert_eq!(filled, "李四：合同 HT-1 欠款 1,200.00 元");
        let known = ["customer_name", "contract_number", "arrears"];
        assert!(unknown(body, &known).is_empty());
        assert_eq!(unknown("{name} {arrears} {id_number", &known), ["name"]);
    }
}
