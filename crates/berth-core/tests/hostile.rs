//! Hostile manifests: inputs shaped to exhaust the loader's stack, memory or time must each
//! come back as one positioned error naming the bound, without taking the valid files down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::diag::Diagnostic;
use berth_core::manifest::{LoadOptions, SourceFile, load};
use berth_core::yaml::{Limits, Node, Value, parse_documents, parse_documents_with};
use berth_testkit::fixtures::ManifestText;

/// The stack the deep-nesting tests run on: far less than a main thread's 8 MiB, so a
/// recursion on the input's depth overflows deterministically instead of by luck.
const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with [`SMALL_STACK`].
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic, no overflow")
}

/// Parses `text` as `name` on a small stack and returns its error.
fn parse_error(name: &'static str, text: String) -> Diagnostic {
    on_small_stack(move || match parse_documents(&Arc::from(name), &text) {
        Ok(_) => panic!("{name} parsed"),
        Err(err) => err,
    })
}

fn position(err: &Diagnostic) -> (&str, u32, u32) {
    (&err.span.file, err.span.line, err.span.column)
}

fn assert_names_depth_limit(err: &Diagnostic) {
    let text = err.to_string();
    assert!(text.contains("nested more than 64 levels deep"), "{text}");
    assert!(text.contains("`max_depth`"), "{text}");
}

#[test]
fn a_deep_block_list_is_rejected_at_the_depth_limit() {
    let err = parse_error("deep.yaml", "- ".repeat(40_000) + "x\n");
    // Level 65 starts at column 2 * 64 + 1.
    assert_eq!(position(&err), ("deep.yaml", 1, 129), "{err}");
    assert_names_depth_limit(&err);
}

#[test]
fn a_deep_block_map_is_rejected_at_the_depth_limit() {
    let text: String = (0..1_000)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect();
    let err = parse_error("deep.yaml", text);
    // yaml-rust2 marks a block map's start after its first key's first character.
    assert_eq!(position(&err), ("deep.yaml", 65, 66), "{err}");
    assert_names_depth_limit(&err);
}

#[test]
fn a_deep_flow_list_is_rejected_at_the_depth_limit() {
    let text = "[".repeat(40_000) + &"]".repeat(40_000);
    let err = parse_error("deep.yaml", text);
    // The scanner reads ahead of the events and stops at its own bound (255 flow levels):
    // the same error, where it stopped.
    assert_eq!(position(&err), ("deep.yaml", 1, 256), "{err}");
    assert_names_depth_limit(&err);
}

#[test]
fn nested_complex_keys_are_rejected_at_the_first_one() {
    let err = parse_error("keys.yaml", "? ".repeat(40_000) + "x\n");
    assert_eq!(position(&err), ("keys.yaml", 1, 3), "{err}");
    assert!(
        err.message.contains("a mapping key must be a plain string"),
        "{err}"
    );
}

#[test]
fn an_alias_cannot_copy_a_value_past_the_depth_limit() {
    // 40 levels anchored, then aliased 30 levels down: 70 levels.
    let deep = "[".repeat(40) + &"]".repeat(40);
    let text = format!(
        "a: &deep {deep}\nb: {}*deep{}\n",
        "[".repeat(30),
        "]".repeat(30)
    );
    let err = parse_error("alias.yaml", text);
    assert_eq!(position(&err), ("alias.yaml", 2, 34), "{err}");
    assert_names_depth_limit(&err);
}

/// `levels` lists of 10, each made of 10 aliases of the previous one: 10^levels nodes.
fn alias_bomb(levels: usize) -> String {
    let mut text = format!("a0: &a0 [{}]\n", ["\"lol\""; 10].join(", "));
    for level in 1..levels {
        let items = vec![format!("*a{}", level - 1); 10].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_stops_at_the_expansion_bound() {
    let text = alias_bomb(9);
    assert!(text.len() < 600, "{} bytes", text.len());
    let started = Instant::now();
    let err = parse_error("bomb.yaml", text);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(err.span.file.as_ref(), "bomb.yaml");
    // 10^4 = 10,000 copies reach the floor while level 4's aliases are expanded.
    assert!((4..=5).contains(&err.span.line), "{err}");
    assert!(
        err.message
            .contains("anchors and aliases expand to more than 10000 nodes"),
        "{err}"
    );
    assert!(err.message.contains("`alias_expansion_factor`"), "{err}");
}

#[test]
fn aliases_within_the_bound_still_expand() {
    let docs = parse_documents(&Arc::from("ok.yaml"), &alias_bomb(3)).expect("1,110 nodes");
    let a2 = docs[0].get("a2").expect("a2");
    let Value::Seq(items) = &a2.value else {
        panic!("{a2:?}")
    };
    assert_eq!(items.len(), 10);
    assert_eq!(items[9].at(&berth_core::field_path![9usize, 10usize]), None);
    assert_eq!(
        items[9]
            .at(&berth_core::field_path![9usize, 0usize])
            .and_then(Node::as_str),
        Some("lol")
    );
}

#[test]
fn many_keys_in_one_map_are_checked_for_duplicates_in_linear_time() {
    let mut text: String = (0..80_000).map(|i| format!("k{i}: 1\n")).collect();
    let started = Instant::now();
    let docs = parse_documents(&Arc::from("keys.yaml"), &text).expect("parses");
    let Value::Map(entries) = &docs[0].value else {
        panic!("a map")
    };
    assert_eq!(entries.len(), 80_000);
    text.push_str("k40000: again\n");
    let err = parse_documents(&Arc::from("keys.yaml"), &text).unwrap_err();
    // Quadratic checking took over 5 s for one parse in release; linear takes well under one.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(position(&err), ("keys.yaml", 80_001, 1), "{err}");
    assert!(
        err.message
            .contains("duplicate key `k40000` (first at line 40001)"),
        "{err}"
    );
}

#[test]
fn a_file_over_the_size_limit_is_rejected_before_parsing() {
    let text = "a: 1\n".repeat(2 * 1024 * 1024 / 5 + 1);
    let err = parse_documents(&Arc::from("big.yaml"), &text).unwrap_err();
    assert_eq!(position(&err), ("big.yaml", 1, 1), "{err}");
    assert!(
        err.message.contains(&format!(
            "file is {} bytes, over the 1048576 byte limit",
            text.len()
        )),
        "{err}"
    );
    assert!(err.message.contains("`max_file_bytes`"), "{err}");
}

#[test]
fn limits_are_configurable() {
    let limits = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    let file = Arc::from("t.yaml");
    assert!(parse_documents_with(&file, "a: {b: 1}\n", &limits).is_ok());
    let err = parse_documents_with(&file, "a: {b: [1]}\n", &limits).unwrap_err();
    assert!(err.message.contains("more than 2 levels"), "{err}");
}

#[test]
fn a_hostile_file_is_one_invalid_manifest_and_the_others_load() {
    let files = [
        SourceFile::new("bomb.yaml", alias_bomb(9)),
        SourceFile::new("deep.yaml", "- ".repeat(40_000)),
        SourceFile::new("prod/web.yaml", ManifestText::web().text()),
    ];
    let outcome = on_small_stack(move || load(&files, &LoadOptions::default()));
    assert_eq!(outcome.services.len(), 1);
    let invalid: Vec<String> = outcome
        .invalid
        .iter()
        .map(|i| i.origin.to_string())
        .collect();
    assert_eq!(invalid, ["bomb.yaml:4", "deep.yaml:1"]);
}

#[test]
fn a_large_but_legitimate_manifest_still_loads() {
    // 5,000 environment variables (~300 KB) and an anchored tag.
    let mut manifest = ManifestText::web()
        .replace(
            "environment: [{name: LOG_LEVEL, value: info}]",
            "environment:",
        )
        .text();
    let mut extra = String::new();
    for i in 0..5_000 {
        extra.push_str(&format!(
            "          - {{name: VAR_{i}, value: \"value number {i} of a long list\"}}\n"
        ));
    }
    manifest = manifest.replace("environment:\n", &format!("environment:\n{extra}"));
    manifest.push_str("    tags:\n      - &team {key: team, value: payments}\n");
    for i in 0..20 {
        manifest.push_str(&format!("      - {{key: t{i}, value: x}}\n"));
    }
    assert!(manifest.len() > 250_000, "{}", manifest.len());
    let outcome = load(
        &[SourceFile::new("prod/web.yaml", manifest)],
        &LoadOptions::default(),
    );
    let errors: Vec<String> = outcome.errors().map(ToString::to_string).collect();
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(outcome.services.len(), 1);
}

#[test]
fn flow_nesting_under_the_scanner_bound_stops_at_the_depth_limit() {
    // 100 levels: below the scanner's own 255, so the tree's bound is the one reached.
    let err = parse_error("deep.yaml", "[".repeat(100) + &"]".repeat(100));
    assert_eq!(position(&err), ("deep.yaml", 1, 65), "{err}");
    assert_names_depth_limit(&err);
}

#[test]
fn the_alias_bound_grows_with_the_file() {
    // 15,100 nodes copied (over the 10,000 floor) in a file of ~2,300 nodes: within 10x.
    let mut text = format!("anchor: &a [{}]\nuses:\n", vec!["x"; 100].join(", "));
    text.push_str(&"  - *a\n".repeat(150));
    text.push_str(&format!("filler: [{}]\n", vec!["y"; 2_000].join(", ")));
    let docs = parse_documents(&Arc::from("big.yaml"), &text).expect("within the bound");
    assert_eq!(
        docs[0]
            .at(&berth_core::field_path!["uses", 149usize, 99usize])
            .and_then(Node::as_str),
        Some("x")
    );
    // The same copies in a small file are past the floor.
    let small = text.replace(&format!("filler: [{}]\n", vec!["y"; 2_000].join(", ")), "");
    let err = parse_documents(&Arc::from("small.yaml"), &small).unwrap_err();
    assert!(err.message.contains("more than 10000 nodes"), "{err}");
}
