//! A revision for a manifest set that has no commit (a local directory).

use berth_core::manifest::{FileContent, SourceFile};
use sha2::{Digest, Sha256};

/// How many hex digits of the hash a directory revision keeps.
const HEX_DIGITS: usize = 12;

/// A stable, short revision of a manifest set read from a directory: `dir-` and the first 12 hex
/// digits of a SHA-256 over every file's path and contents, in path order. The same files give
/// the same revision on every machine and every berth version; any change to a path or a byte
/// gives another, so the daemon can tell that a directory changed and log it like a commit.
///
/// Each path and text is length-prefixed, so moving bytes between a path and its contents, or
/// between two files, changes the revision too.
pub fn content_revision(files: &[SourceFile]) -> String {
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| {
        a.path
            .cmp(&b.path)
            .then_with(|| contents(a).cmp(&contents(b)))
    });
    let mut hasher = Sha256::new();
    hasher.update(b"berth-dir-v1\0");
    for file in sorted {
        let contents = contents(file);
        for part in [file.path.as_bytes(), contents.as_bytes()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(4 + HEX_DIGITS);
    out.push_str("dir-");
    for byte in digest.iter().take(HEX_DIGITS / 2) {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A file's text, or (for a file that could not be read) why, marked so no text can equal it.
fn contents(file: &SourceFile) -> std::borrow::Cow<'_, str> {
    match &file.content {
        FileContent::Text(text) => text.into(),
        FileContent::Unreadable(why) => format!("\0unreadable: {why}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile::new(path, text)
    }

    #[test]
    fn is_short_stable_and_order_independent() {
        let a = [file("prod/web.yaml", "a: 1"), file("prod/db.yaml", "b: 2")];
        let b = [file("prod/db.yaml", "b: 2"), file("prod/web.yaml", "a: 1")];
        let rev = content_revision(&a);
        assert_eq!(rev, content_revision(&b));
        assert!(rev.starts_with("dir-"));
        assert_eq!(rev.len(), 4 + 12);
        assert!(rev[4..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn is_pinned_across_versions() {
        // A revision ends up in logs and ownership tags: changing the hash input changes every
        // directory source's revision, so this value must only change on purpose.
        assert_eq!(content_revision(&[]), content_revision(&[]));
        let pinned = content_revision(&[file("web.yaml", "x: 1")]);
        assert_eq!(pinned, "dir-9aea18cdb8cf");
    }

    #[test]
    fn changes_with_any_path_or_byte() {
        let base = content_revision(&[file("web.yaml", "x: 1")]);
        assert_ne!(base, content_revision(&[file("web.yaml", "x: 2")]));
        assert_ne!(base, content_revision(&[file("api.yaml", "x: 1")]));
        assert_ne!(base, content_revision(&[]));
        // Bytes moved between path and contents, or between files, still count.
        assert_ne!(
            content_revision(&[file("ab", "c")]),
            content_revision(&[file("a", "bc")])
        );
        assert_ne!(
            content_revision(&[file("a", "x"), file("b", "")]),
            content_revision(&[file("a", ""), file("b", "x")])
        );
    }
}
