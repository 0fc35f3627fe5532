//! botocore documentation HTML turned into wrapped rustdoc Markdown lines.
//!
//! `<p>` makes paragraphs, `<ul>`/`<ol>`/`<dl>` make lists, `<code>` makes code spans, `<a>`
//! keeps its text and adds the address as `(<url>)`; entities are decoded, other tags dropped.
//! Text outside code spans has Markdown's special characters escaped so that rustdoc shows it
//! as written (`[`, `]` would otherwise be read as intra-doc links).

/// One paragraph or list-item paragraph, before wrapping.
#[derive(Debug)]
struct Block {
    /// Prefix of the first line (indentation plus a list marker, if any).
    first_prefix: String,
    /// Prefix of the following lines (indentation to the item's content).
    rest_prefix: String,
    /// The Markdown text, whitespace collapsed.
    text: String,
    /// Whether this block starts a new top-level group (a paragraph, or a whole list).
    starts_group: bool,
}

/// A list being read.
#[derive(Debug)]
struct List {
    /// `<ol>`: numbered items.
    ordered: bool,
    /// Items seen so far.
    items: usize,
    /// Column at which this list's markers start.
    indent: usize,
    /// Column at which the current item's content starts.
    content: usize,
}

/// Reading state.
#[derive(Debug, Default)]
struct Reader {
    /// Finished blocks.
    blocks: Vec<Block>,
    /// Markdown text of the block being read.
    text: String,
    /// Code span being read, if inside `<code>`.
    code: Option<String>,
    /// Open links: the address and where the link text starts in `text`.
    links: Vec<(Option<String>, usize)>,
    /// Open lists, innermost last.
    lists: Vec<List>,
    /// Prefixes for the next block when a list item just started.
    pending_marker: Option<(String, String)>,
    /// Whether the next block at list depth starts a group (a top-level list just opened).
    list_group_pending: bool,
}

/// Converts botocore documentation HTML into Markdown lines of at most `width` columns (long
/// words excepted), keeping the first `max_groups` top-level paragraphs or lists. Blank strings
/// separate paragraphs. Returns no lines if the HTML holds no text.
pub fn markdown_lines(html: &str, width: usize, max_groups: usize) -> Vec<String> {
    let mut reader = Reader::default();
    let mut rest = html;
    while !rest.is_empty() {
        match rest.find('<') {
            Some(0) => {
                let end = rest.find('>').map_or(rest.len(), |end| end + 1);
                reader.tag(&rest[..end]);
                rest = &rest[end..];
            }
            Some(start) => {
                reader.text(&rest[..start]);
                rest = &rest[start..];
            }
            None => {
                reader.text(rest);
                rest = "";
            }
        }
    }
    reader.flush();

    let mut lines = Vec::new();
    let mut groups = 0;
    let mut introduces_list = false;
    let mut previous_in_list = false;
    for block in reader.blocks {
        let in_list = !block.rest_prefix.is_empty();
        let starts_item = block.first_prefix != block.rest_prefix;
        // A list counts with the paragraph that introduces it ("The valid values are:").
        if block.starts_group && !(in_list && introduces_list) {
            groups += 1;
            if groups > max_groups {
                break;
            }
        }
        // Items of one list follow each other directly (a tight list); anything else, and a
        // list after the paragraph introducing it, is separated by a blank line.
        let tight = starts_item && previous_in_list && !introduces_list;
        if !lines.is_empty() && !tight {
            lines.push(String::new());
        }
        introduces_list = block.text.ends_with(':');
        previous_in_list = in_list;
        wrap(&block, width, &mut lines);
    }
    lines
}

/// Wraps one Markdown paragraph (already escaped) into lines of at most `width` columns.
pub fn wrap_paragraph(text: &str, width: usize) -> Vec<String> {
    let block = Block {
        first_prefix: String::new(),
        rest_prefix: String::new(),
        text: collapse_whitespace(text),
        starts_group: true,
    };
    let mut lines = Vec::new();
    wrap(&block, width, &mut lines);
    lines
}

impl Reader {
    /// Handles one tag, `<name attr="...">` or `</name>`.
    fn tag(&mut self, tag: &str) {
        let inner = tag.trim_start_matches('<').trim_end_matches('>');
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(inner) => (true, inner),
            None => (false, inner),
        };
        let name_end = inner
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("p" | "note" | "important" | "dd", _) => self.flush(),
            ("ul" | "dl" | "ol", false) => {
                self.flush();
                let indent = self.lists.last().map_or(0, |list| list.content);
                if self.lists.is_empty() {
                    self.list_group_pending = true;
                }
                self.lists.push(List {
                    ordered: name == "ol",
                    items: 0,
                    indent,
                    content: indent + 2,
                });
            }
            ("ul" | "dl" | "ol", true) => {
                self.flush();
                self.lists.pop();
                self.pending_marker = None;
            }
            ("li" | "dt", false) => {
                self.flush();
                if let Some(list) = self.lists.last_mut() {
                    list.items += 1;
                    let marker = if list.ordered {
                        format!("{}. ", list.items)
                    } else {
                        "- ".to_string()
                    };
                    list.content = list.indent + marker.len();
                    let first = format!("{}{marker}", " ".repeat(list.indent));
                    self.pending_marker = Some((first, " ".repeat(list.content)));
                }
            }
            ("li" | "dt", true) => self.flush(),
            ("code", false) if self.code.is_none() => self.code = Some(String::new()),
            ("code", true) => {
                if let Some(code) = self.code.take() {
                    self.text.push_str(&code_span(&code));
                }
            }
            ("a", false) => {
                let href = attribute(inner, "href");
                self.links.push((href, self.text.len()));
            }
            ("a", true) => {
                if let Some((Some(href), start)) = self.links.pop()
                    && !href.is_empty()
                    && !href.contains(char::is_whitespace)
                {
                    let label = self.text[start..].trim();
                    if label.is_empty() || label == href {
                        self.text.truncate(start);
                        self.text.push_str(&format!(" <{href}>"));
                    } else {
                        self.text.push_str(&format!(" (<{href}>)"));
                    }
                }
            }
            _ => {}
        }
    }

    /// Handles text between tags.
    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        match &mut self.code {
            Some(code) => code.push_str(&decoded),
            None => self.text.push_str(&escape_markdown(&decoded)),
        }
    }

    /// Ends the current block, if it has any text.
    fn flush(&mut self) {
        if let Some(code) = self.code.take() {
            self.text.push_str(&code_span(&code));
        }
        self.links.clear();
        let text = collapse_whitespace(&std::mem::take(&mut self.text));
        if text.is_empty() {
            return;
        }
        let (first_prefix, rest_prefix) = match self.pending_marker.take() {
            Some(prefixes) => prefixes,
            None => {
                let indent = " ".repeat(self.lists.last().map_or(0, |list| list.content));
                (indent.clone(), indent)
            }
        };
        let starts_group = if self.lists.is_empty() {
            true
        } else {
            std::mem::take(&mut self.list_group_pending)
        };
        self.blocks.push(Block {
            first_prefix,
            rest_prefix,
            text,
            starts_group,
        });
    }
}

/// Reads `name="value"` from a tag's inside.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let length = tag[start..].find('"')?;
    Some(decode_entities(&tag[start..start + length]))
}

/// A Markdown code span for `code`, whitespace collapsed; empty code gives nothing.
fn code_span(code: &str) -> String {
    let code = collapse_whitespace(code);
    if code.is_empty() {
        return String::new();
    }
    let mut longest_run = 0;
    let mut run = 0;
    for c in code.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest_run = longest_run.max(run);
    }
    let fence = "`".repeat(longest_run + 1);
    if code.starts_with('`') || code.ends_with('`') {
        format!("{fence} {code} {fence}")
    } else {
        format!("{fence}{code}{fence}")
    }
}

/// Decodes the HTML entities botocore uses (named and numeric).
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let decoded = rest.find(';').and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, length)) => {
                out.push(c);
                rest = &rest[length..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes characters Markdown would otherwise interpret in running text.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '[' | ']' | '<' | '*' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Collapses runs of whitespace into single spaces and trims the ends.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a line starting with `word` could be read as a list item, heading, quote, rule or
/// code fence rather than as running text.
fn risky_line_start(word: &str) -> bool {
    let repeats_marker = word
        .chars()
        .next()
        .is_some_and(|first| "-+*=#_".contains(first) && word.chars().all(|c| c == first));
    let digits = word.chars().take_while(char::is_ascii_digit).count();
    let ordered_marker = digits > 0 && matches!(&word[digits..], "." | ")");
    repeats_marker
        || ordered_marker
        || word.starts_with('>')
        || word.starts_with("```")
        || word.starts_with("~~~")
}

/// Greedily wraps a block's words into lines of at most `width` columns.
fn wrap(block: &Block, width: usize, lines: &mut Vec<String>) {
    let mut line = block.first_prefix.clone();
    let mut line_has_word = false;
    for word in block.text.split(' ') {
        let fits = line.len() + 1 + word.len() <= width;
        if line_has_word && !fits && !risky_line_start(word) {
            lines.push(std::mem::replace(&mut line, block.rest_prefix.clone()));
            line_has_word = false;
        }
        if line_has_word {
            line.push(' ');
        }
        line.push_str(word);
        line_has_word = true;
    }
    lines.push(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_code_links_and_escapes() {
        let html = "<p>Use <code>host</code> or [x] &lt;y&gt;.</p> <p>See \
                    <a href=\"https://example.com/a\">the guide</a>.</p>";
        assert_eq!(
            markdown_lines(html, 80, 3),
            vec![
                "Use `host` or \\[x\\] \\<y>.".to_string(),
                String::new(),
                "See the guide (<https://example.com/a>).".to_string(),
            ]
        );
    }

    #[test]
    fn lists_wrap_with_indented_continuations() {
        let html = "<p>Values:</p> <ul> <li> <p>one two three four</p> </li> \
                    <li><p>five</p></li> </ul> <p>after</p>";
        assert_eq!(
            markdown_lines(html, 12, 5),
            vec![
                "Values:",
                "",
                "- one two",
                "  three four",
                "- five",
                "",
                "after"
            ]
        );
    }

    #[test]
    fn groups_are_cut_after_the_limit() {
        let html = "<p>a</p><ul><li>b</li><li>c</li></ul><p>d</p>";
        assert_eq!(markdown_lines(html, 80, 2), vec!["a", "", "- b", "- c"]);
    }

    #[test]
    fn a_list_counts_with_its_introduction() {
        let html = "<p>a</p><p>Values:</p><ul><li>b</li></ul><p>d</p>";
        assert_eq!(
            markdown_lines(html, 80, 2),
            vec!["a", "", "Values:", "", "- b"]
        );
    }

    #[test]
    fn no_line_starts_with_a_list_marker() {
        let html = "<p>aaaa - bbbb</p>";
        assert_eq!(markdown_lines(html, 5, 1), vec!["aaaa -", "bbbb"]);
    }

    #[test]
    fn empty_html_gives_no_lines() {
        assert!(markdown_lines("<zonbook></zonbook><xhtml></xhtml>", 80, 3).is_empty());
    }
}
