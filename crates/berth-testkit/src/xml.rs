//! Just enough XML reading for EC2's query-protocol answers: the text of simple elements.

/// The text of every `<tag>…</tag>` element (in document order) whose content is plain text,
/// with the five predefined entities decoded. Attributes on the opening tag are allowed.
pub(crate) fn values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        // `<tagX` is another element; `<tag/>` is empty.
        let Some(gt) = rest.find('>') else { break };
        let attributes = &rest[..gt];
        if !(attributes.is_empty()
            || attributes.starts_with(|c: char| c.is_whitespace() || c == '/'))
        {
            continue;
        }
        if attributes.ends_with('/') {
            found.push(String::new());
            continue;
        }
        rest = &rest[gt + 1..];
        let Some(end) = rest.find(&close) else { break };
        let text = &rest[..end];
        if !text.contains('<') {
            found.push(unescape(text));
        }
        rest = &rest[end + close.len()..];
    }
    found
}

/// The text of the first `<tag>` element, if any.
pub(crate) fn first(xml: &str, tag: &str) -> Option<String> {
    values(xml, tag).into_iter().next()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_simple_elements_in_order() {
        let xml = r#"<r><subnetSet><item><subnetId>subnet-1</subnetId><subnetArn>arn:x/subnet-1</subnetArn></item>
            <item><subnetId a="b">subnet-2</subnetId></item><subnetIds>no</subnetIds></subnetSet></r>"#;
        assert_eq!(values(xml, "subnetId"), ["subnet-1", "subnet-2"]);
        assert_eq!(first(xml, "subnetArn").as_deref(), Some("arn:x/subnet-1"));
        assert_eq!(first(xml, "missing"), None);
    }

    #[test]
    fn decodes_entities_and_empty_elements() {
        let xml = "<a><Message>a &lt;b&gt; &amp;amp; &quot;c&quot;</Message><tagSet/></a>";
        assert_eq!(first(xml, "Message").as_deref(), Some("a <b> &amp; \"c\""));
        assert_eq!(values(xml, "tagSet"), [""]);
    }

    #[test]
    fn skips_elements_with_children() {
        let xml =
            "<groups><item><groupId>sg-inner</groupId></item></groups><groupId>sg-1</groupId>";
        assert_eq!(values(xml, "groups"), Vec::<String>::new());
        assert_eq!(values(xml, "groupId"), ["sg-inner", "sg-1"]);
    }
}
