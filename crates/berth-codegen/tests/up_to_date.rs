//! The committed generated files (`berth-core/src/model/ecs.rs`,
//! `berth-aws/src/convert/generated.rs`, `docs/manifest-reference.md`) are what the generator
//! writes from the committed AWS model.

use std::fs;

#[test]
fn generated_files_are_up_to_date() {
    let model = fs::read_to_string(berth_codegen::model_path()).expect("read the AWS model");
    let outputs = berth_codegen::generate_all(&model).expect("generate");
    assert_eq!(
        outputs.len(),
        3,
        "the model, the SDK conversions and the manifest reference"
    );
    for output in outputs {
        let committed = fs::read_to_string(&output.path).unwrap_or_default();
        assert!(
            committed == output.text,
            "{} is stale: run `cargo run -p berth-codegen`",
            output.shown
        );
    }
}

#[test]
fn generate_matches_generate_all() {
    let model = fs::read_to_string(berth_codegen::model_path()).expect("read the AWS model");
    let outputs = berth_codegen::generate_all(&model).expect("generate");
    assert_eq!(
        berth_codegen::generate(&model).expect("generate"),
        outputs[0].text
    );
}
