//! The committed `berth-core/src/model/ecs.rs` is what the generator writes from the committed
//! AWS model.

use std::fs;

#[test]
fn generated_model_is_up_to_date() {
    let model = fs::read_to_string(berth_codegen::model_path()).expect("read the AWS model");
    let generated = berth_codegen::generate(&model).expect("generate");
    let committed = fs::read_to_string(berth_codegen::output_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "crates/berth-core/src/model/ecs.rs is stale: run `cargo run -p berth-codegen`"
    );
}
