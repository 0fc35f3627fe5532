//! Every example in the README and `docs/` is checked: manifest blocks validate, `berth.yaml`
//! blocks parse as the daemon's config, and every `berth ...` command line parses with the real
//! CLI definition, so a renamed flag or field fails here instead of in a reader's terminal.
//!
//! The conventions a document follows are in `docs/ARCHITECTURE.md` ("Documentation").

use std::path::{Path, PathBuf};

use berth_core::manifest::{self, LoadOptions, SourceFile};
use clap::CommandFactory;

use crate::cli::Cli;
use crate::config::ConfigFile;

/// The variables doc examples may use, with the values they are validated with.
const EXAMPLE_VARS: &[(&str, &str)] = &[
    ("ACCOUNT", "123456789012"),
    ("REGION", "us-east-1"),
    ("SUBNET_A", "subnet-0a1b2c3d"),
    ("SUBNET_B", "subnet-0e1f2a3b"),
    ("SECURITY_GROUP", "sg-0123abcd"),
    ("IMAGE_TAG", "1.0.0"),
];

/// One fenced code block of a Markdown file.
#[derive(Debug)]
struct Block {
    /// `file:line` of the opening fence, for messages.
    at: String,
    /// The line of the opening fence (the body starts on the next line).
    fence_line: usize,
    /// The info string's first word (`yaml`, `sh`, ...), lower case.
    lang: String,
    /// The lines between the fences.
    body: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Markdown files whose examples are checked: the README and every document in `docs/`,
/// `manifests/` and `deploy/` (not the emulator's virtual environment).
fn documents() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = vec![root.join("README.md"), root.join("manifests/README.md")];
    for dir in ["docs", "deploy/local", "deploy/aws"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        files.extend(
            entries
                .map(|entry| entry.expect("directory entry").path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "md")),
        );
    }
    files.sort();
    files
}

/// The fenced blocks of `text` (` ``` ` fences only, which is all berth's documents use).
fn blocks(file: &str, text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<(usize, String, Vec<&str>)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match (&mut open, trimmed.strip_prefix("```")) {
            (None, Some(info)) => {
                let lang = info.split_whitespace().next().unwrap_or("").to_lowercase();
                open = Some((index + 1, lang, Vec::new()));
            }
            (Some(_), Some(_)) => {
                let (line, lang, body) = open.take().expect("an open block");
                found.push(Block {
                    at: format!("{file}:{line}"),
                    fence_line: line,
                    lang,
                    body: body.join("\n"),
                });
            }
            (Some((_, _, body)), None) => body.push(line),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{file}: a code block is never closed");
    found
}

fn all_blocks() -> Vec<Block> {
    documents()
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).expect("read a document");
            let shown = path
                .strip_prefix(workspace_root())
                .unwrap_or(path)
                .display()
                .to_string();
            blocks(&shown, &text)
        })
        .collect()
}

/// Whether a YAML block is a berth manifest (and so must validate).
fn is_manifest(block: &Block) -> bool {
    block.lang == "yaml"
        && block
            .body
            .lines()
            .any(|l| l.trim() == "apiVersion: berth/v1")
}

/// Whether a YAML block is the daemon's config file (its first line says `# berth.yaml`).
fn is_config(block: &Block) -> bool {
    block.lang == "yaml" && block.body.lines().next().map(str::trim) == Some("# berth.yaml")
}

/// The errors of loading `block` as a manifest set of one file.
fn manifest_errors(block: &Block) -> Vec<String> {
    let options = LoadOptions {
        vars: EXAMPLE_VARS
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        ..LoadOptions::default()
    };
    let files = [
        // Blank lines first, so that errors give the document's own line numbers.
        SourceFile::new("example.yaml", "\n".repeat(block.fence_line) + &block.body),
        SourceFile::new("dependencies.yaml", dependency_stubs(&block.body)),
    ];
    let outcome = manifest::load(&files, &options);
    let mut errors: Vec<String> = outcome.errors().map(ToString::to_string).collect();
    if outcome.services.is_empty() && errors.is_empty() {
        errors.push("no service in the block".into());
    }
    errors
}

/// Minimal manifests for the services a block's `metadata.dependsOn` names but does not
/// declare: an example shows one service, and the services it depends on are taken to exist.
fn dependency_stubs(body: &str) -> String {
    let Ok(documents) = berth_core::yaml::parse_documents(&"example.yaml".into(), body) else {
        return String::new();
    };
    let metadata = |doc: &berth_core::yaml::Node, key: &str| {
        doc.get("metadata").and_then(|m| m.get(key)).cloned()
    };
    let text = |node: Option<berth_core::yaml::Node>| {
        node.and_then(|n| n.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let mut declared = std::collections::BTreeSet::new();
    let mut needed = std::collections::BTreeSet::new();
    for doc in &documents {
        let cluster = text(metadata(doc, "cluster"));
        declared.insert((cluster.clone(), text(metadata(doc, "name"))));
        if let Some(berth_core::yaml::Value::Seq(names)) =
            metadata(doc, "dependsOn").map(|n| n.value)
        {
            for name in names.iter().filter_map(|n| n.as_str()) {
                needed.insert((cluster.clone(), name.to_string()));
            }
        }
    }
    needed
        .difference(&declared)
        .map(|(cluster, name)| {
            format!(
                "apiVersion: berth/v1\nkind: Service\nmetadata: {{name: {name}, cluster: {cluster}}}\n\
                 spec:\n  taskDefinition:\n    containerDefinitions: [{{name: app, image: \"nginx:1.27\"}}]\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The `berth ...` command lines of a shell block: continuations joined, prompts and trailing
/// comments removed.
fn command_lines(body: &str) -> Vec<String> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in body.lines() {
        let line = line.trim();
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
            continue;
        }
        current.push_str(line);
        joined.push(std::mem::take(&mut current));
    }
    joined
        .into_iter()
        .map(|line| {
            let line = line.strip_prefix("$ ").unwrap_or(&line).to_string();
            match line.find(" #") {
                Some(at) => line[..at].trim_end().to_string(),
                None => line,
            }
        })
        .filter(|line| line.starts_with("berth "))
        .collect()
}

/// Splits a command line into words the way a POSIX shell would for the simple lines docs
/// use: whitespace-separated, with `'...'` and `"..."` quoting.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Whether a line is a synopsis (`[PATH]`, `a|b`, `...`) rather than a command to run.
fn is_synopsis(line: &str) -> bool {
    line.contains('[') || line.contains('|') || line.contains("...") || line.contains('<')
}

/// Checks a synopsis: its subcommand exists and every `--flag` it names is one of that
/// subcommand's (or a global) flag.
fn synopsis_error(line: &str) -> Option<String> {
    let words = words(line);
    let command = Cli::command();
    let Some(name) = words.get(1) else {
        return Some("no subcommand".into());
    };
    let Some(sub) = command.find_subcommand(name) else {
        return Some(format!("no subcommand `{name}`"));
    };
    let known: Vec<&str> = sub
        .get_arguments()
        .chain(command.get_arguments())
        .filter_map(|arg| arg.get_long())
        .chain(["help", "version"])
        .collect();
    words
        .iter()
        .filter_map(|word| word.trim_start_matches('[').strip_prefix("--"))
        .map(|flag| flag.split(['=', ']', ' ']).next().unwrap_or(flag))
        .find(|flag| !known.contains(flag))
        .map(|flag| format!("`{name}` has no flag `--{flag}`"))
}

/// Why a documented command line does not parse, if it does not.
fn command_error(line: &str) -> Option<String> {
    if is_synopsis(line) {
        return synopsis_error(line);
    }
    parse_error(words(line))
}

/// Why `words` do not parse as a berth command line, if they do not (`--help` is fine).
fn parse_error(words: Vec<String>) -> Option<String> {
    use clap::Parser;
    match Cli::try_parse_from(words) {
        Ok(_) => None,
        Err(err)
            if matches!(
                err.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            None
        }
        Err(err) => Some(err.to_string()),
    }
}

#[test]
fn every_manifest_example_validates() {
    let manifests: Vec<Block> = all_blocks().into_iter().filter(is_manifest).collect();
    assert!(
        manifests.len() >= 3,
        "the README and manifests/README.md have examples"
    );
    let failures: Vec<String> = manifests
        .iter()
        .filter_map(|block| {
            let errors = manifest_errors(block);
            (!errors.is_empty()).then(|| format!("{}:\n  {}", block.at, errors.join("\n  ")))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_config_example_parses() {
    let failures: Vec<String> = all_blocks()
        .into_iter()
        .filter(is_config)
        .filter_map(|block| {
            ConfigFile::parse("berth.yaml", &block.body)
                .err()
                .map(|err| format!("{}: {err:#}", block.at))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_command_line_example_parses() {
    let shell = ["sh", "bash", "console", "shell"];
    let lines: Vec<(String, String)> = all_blocks()
        .into_iter()
        .filter(|block| shell.contains(&block.lang.as_str()))
        .flat_map(|block| {
            command_lines(&block.body)
                .into_iter()
                .map(move |line| (block.at.clone(), line))
        })
        .collect();
    assert!(lines.len() >= 6, "the README's commands: {lines:?}");
    let failures: Vec<String> = lines
        .iter()
        .filter_map(|(at, line)| command_error(line).map(|err| format!("{at}: {line}\n  {err}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- the checker itself -----------------------------------------------------------------

#[test]
fn a_stale_flag_or_field_is_caught() {
    assert!(command_error("berth plan manifests --format markdown").is_none());
    assert!(command_error("berth plan manifests --format html").is_some());
    assert!(command_error("berth plan --no-such-flag").is_some());
    assert!(command_error("berth validate [PATH] [--var NAME=VALUE]...").is_none());
    assert!(command_error("berth validate [PATH] [--vars NAME=VALUE]...").is_some());
    assert!(command_error("berth frobnicate [PATH]").is_some());
    let block = |body: &str| Block {
        at: "test".into(),
        fence_line: 0,
        lang: "yaml".into(),
        body: body.into(),
    };
    let good = "apiVersion: berth/v1\nkind: Service\nmetadata: {name: web, cluster: prod}\n\
                spec:\n  desiredCount: 1\n  taskDefinition:\n    containerDefinitions:\n      \
                - {name: web, image: \"nginx:1.27\"}\n";
    assert_eq!(manifest_errors(&block(good)), Vec::<String>::new());
    let stale = good.replace("desiredCount", "desiredCont");
    assert!(manifest_errors(&block(&stale))[0].contains("desiredCont"));
}

#[test]
fn command_lines_join_continuations_and_drop_prompts_and_comments() {
    let body = "$ berth plan manifests \\\n  --format json   # the plan\necho hi\nberth validate";
    assert_eq!(
        command_lines(body),
        ["berth plan manifests --format json", "berth validate"]
    );
    assert_eq!(
        words("berth run --var 'A=b c'"),
        ["berth", "run", "--var", "A=b c"]
    );
}
