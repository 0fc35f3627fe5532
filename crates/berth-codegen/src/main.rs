//! `berth-codegen [--check]`: writes `crates/berth-core/src/model/ecs.rs`,
//! `crates/berth-aws/src/convert/generated.rs` and `docs/manifest-reference.md` from the AWS
//! model, or with `--check` exits 1 if a committed file differs from what it would write.

use std::fs;
use std::process::ExitCode;

/// The command line.
const USAGE: &str = "usage: cargo run -p berth-codegen [-- --check]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(check) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("berth-codegen: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Generates, then writes or checks every output file.
fn run(check: bool) -> Result<ExitCode, String> {
    let model_path = berth_codegen::model_path();
    let model = fs::read_to_string(&model_path)
        .map_err(|error| format!("cannot read {}: {error}", model_path.display()))?;
    let outputs = berth_codegen::generate_all(&model).map_err(|error| error.to_string())?;
    let mut stale = false;
    for output in outputs {
        let current = fs::read_to_string(&output.path).ok();
        let up_to_date = current.as_deref() == Some(output.text.as_str());
        let shown = output.shown;
        if up_to_date {
            println!("{shown} is up to date");
        } else if check {
            eprintln!(
                "{shown} is stale (it differs from what crates/berth-codegen generates from \
                 the AWS model in crates/berth-codegen/model/): run `cargo run -p berth-codegen`"
            );
            stale = true;
        } else {
            fs::write(&output.path, &output.text)
                .map_err(|error| format!("cannot write {}: {error}", output.path.display()))?;
            println!("wrote {shown} ({} lines)", output.text.lines().count());
        }
    }
    Ok(if stale {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
