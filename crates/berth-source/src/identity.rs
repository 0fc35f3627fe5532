//! A manifest source's identity: the credential-free id berth writes into `berth:source` tags
//! and compares to decide which services it owns (docs/operations.md, "Ownership tags").
//!
//! `git:<host>/<path>@<branch>[:<sub-path>]` for a repository, `dir:<absolute path>` for a
//! watched directory. User information, ports that are the scheme's default, a `.git` suffix,
//! query strings and letter case in the host are dropped, so that every spelling of one
//! repository gives one id, and no token or password ever reaches a tag.

use std::path::Path;

use berth_core::render::tags::{DIR_SOURCE_PREFIX, GIT_SOURCE_PREFIX};

/// The id of a git repository source: `git:<host>/<path>@<branch>[:<sub-path>]`.
pub fn git_source_id(url: &str, branch: &str, sub_path: Option<&str>) -> String {
    let mut id = format!("{GIT_SOURCE_PREFIX}{}@{branch}", repository_location(url));
    if let Some(path) = sub_path
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        id.push(':');
        id.push_str(path);
    }
    id
}

/// The id of a watched directory source: `dir:<absolute path>` (canonical when it exists).
pub fn dir_source_id(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("{DIR_SOURCE_PREFIX}{}", absolute.display())
}

/// `host/path` of a repository URL in any form git takes, without credentials.
fn repository_location(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        // `git@host:org/repo.git` (scp-like) has a `:` before the first `/`.
        None if is_scp_like(url) => ("ssh".to_owned(), url),
        None => return local_location(url),
    };
    if scheme == "file" {
        return local_location(rest);
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = match rest.find(['/', ':']) {
        Some(at) if scheme == "ssh" && rest[at..].starts_with(':') && !is_port(&rest[at + 1..]) => {
            (&rest[..at], &rest[at + 1..])
        }
        _ => rest.split_at(rest.find('/').unwrap_or(rest.len())),
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = strip_default_port(&host.to_ascii_lowercase(), &scheme);
    format!("{host}/{}", clean_path(path))
}

/// `user@host:path` with no `/` before the `:`.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Whether `text` starts with a port number followed by `/` (as in `ssh://host:22/org/repo`).
fn is_port(text: &str) -> bool {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && text[digits..].starts_with('/')
}

fn strip_default_port(host: &str, scheme: &str) -> String {
    let default = match scheme {
        "https" => ":443",
        "http" => ":80",
        "ssh" => ":22",
        "git" => ":9418",
        _ => "",
    };
    match host.strip_suffix(default) {
        Some(bare) if !default.is_empty() => bare.to_owned(),
        _ => host.to_owned(),
    }
}

/// A repository path without leading or trailing `/` and without `.git`.
fn clean_path(path: &str) -> String {
    let path = path.trim_matches('/');
    path.strip_suffix(".git").unwrap_or(path).to_owned()
}

/// A local repository: `local/<absolute path>`, canonical when it exists.
fn local_location(path: &str) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| Path::new(path).to_path_buf());
    format!("local/{}", clean_path(&absolute.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_one_repository_is_one_id_without_credentials() {
        let expected = "git:github.com/acme/deploy@main";
        for url in [
            "https://github.com/acme/deploy.git",
            "https://x-access-token:ghp_secret@github.com/acme/deploy.git",
            "https://GitHub.com:443/acme/deploy/",
            "ssh://git@github.com/acme/deploy.git",
            "ssh://git@github.com:22/acme/deploy.git",
            "git@github.com:acme/deploy.git",
            "https://github.com/acme/deploy?ref=x",
        ] {
            let id = git_source_id(url, "main", None);
            assert_eq!(id, expected, "{url}");
            assert!(!id.contains("secret") && !id.contains("token"));
        }
    }

    #[test]
    fn branch_and_sub_path_are_part_of_the_id() {
        let url = "https://gitlab.example.com:8443/platform/deploy.git";
        assert_eq!(
            git_source_id(url, "release", Some("/manifests/prod/")),
            "git:gitlab.example.com:8443/platform/deploy@release:manifests/prod"
        );
        assert_ne!(
            git_source_id(url, "main", Some("staging")),
            git_source_id(url, "main", Some("prod"))
        );
    }

    #[test]
    fn local_repositories_and_directories_use_their_absolute_path() {
        assert_eq!(
            git_source_id("/srv/deploy.git", "main", None),
            "git:local/srv/deploy@main"
        );
        assert_eq!(
            git_source_id("file:///srv/deploy.git", "main", None),
            "git:local/srv/deploy@main"
        );
        assert_eq!(
            dir_source_id(Path::new("/nonexistent/manifests")),
            "dir:/nonexistent/manifests"
        );
    }
}
