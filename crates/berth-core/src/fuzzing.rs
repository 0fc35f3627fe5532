//! The loader's fuzz entry point, shared by the `cargo fuzz` target (`fuzz/fuzz_targets/
//! loader.rs`) and the test that replays its saved corpus on stable
//! (`crates/berth-core/tests/fuzz_corpus.rs`). Not part of the API.

use crate::manifest::{LoadOptions, LoadOutcome, SourceFile, Vars, load};
use crate::render::{self, Provenance};
use crate::yaml::Limits;

/// A valid manifest loaded next to the input, so that the input as `_defaults.yaml` is merged
/// under something and the cross-manifest checks (duplicates, `dependsOn`) have a peer.
const MANIFEST: &str = "\
apiVersion: berth/v1
kind: Service
metadata: {name: api}
spec:
  desiredCount: 2
  taskDefinition:
    cpu: \"256\"
    memory: \"512\"
    containerDefinitions:
      - {name: api, image: \"${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/api:${IMAGE_TAG}\"}
";

/// Shared settings the input is merged over when it is loaded as a manifest.
const DEFAULTS: &str = "\
metadata: {cluster: prod}
spec:
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration: {subnets: [\"${SUBNET_A}\"], securityGroups: [\"${SECURITY_GROUP}\"]}
  taskDefinition: {networkMode: awsvpc, requiresCompatibilities: [FARGATE]}
";

/// The file size limit of the `x.json` load: small, so that the fuzzer also reaches the
/// too-large path of [`SourceFile::from_bytes`] (it never writes a 1 MiB input).
const SMALL_FILE_BYTES: usize = 4096;

/// Loads `bytes` the ways the daemon can meet a file, and uses every result the way the daemon
/// does (formats each diagnostic, renders each valid service). A panic, a hang or a memory
/// blow-up in here is a bug in the loader. Returns how many services and invalid manifests
/// came out, in all.
///
/// The loads, each one separate set:
/// - `prod/web.yaml` read from raw bytes ([`SourceFile::from_bytes`]: UTF-8 and size checks);
/// - the input (UTF-8, lossy) as `prod/_defaults.yaml`, under a valid `prod/api.yaml`;
/// - the input as `prod/web.yaml` under a valid `_defaults.yaml`, next to `prod/api.yaml`;
/// - `x.json` from raw bytes with a 4 KiB size limit and without `${VAR}` substitution.
#[doc(hidden)]
pub fn load_fuzz_input(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let vars: Vars = [
        ("ACCOUNT", "123456789012"),
        ("REGION", "eu-west-1"),
        ("SUBNET_A", "subnet-0a"),
        ("SUBNET_B", "subnet-0b"),
        ("SECURITY_GROUP", "sg-0a"),
        ("IMAGE_TAG", "1.0.0"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    let options = LoadOptions {
        vars,
        ..LoadOptions::default()
    };
    let max_file_bytes = options.limits.max_file_bytes;
    let small = LoadOptions {
        substitute_vars: false,
        limits: Limits {
            max_file_bytes: SMALL_FILE_BYTES,
            ..Limits::default()
        },
        ..options.clone()
    };

    let sets: [(Vec<SourceFile>, &LoadOptions); 4] = [
        (
            vec![SourceFile::from_bytes(
                "prod/web.yaml",
                bytes.to_vec(),
                max_file_bytes,
            )],
            &options,
        ),
        (
            vec![
                SourceFile::new("prod/_defaults.yaml", text.as_ref()),
                SourceFile::new("prod/api.yaml", MANIFEST),
            ],
            &options,
        ),
        (
            vec![
                SourceFile::new("_defaults.yaml", DEFAULTS),
                SourceFile::new("prod/api.yaml", MANIFEST),
                SourceFile::new("prod/web.yaml", text.as_ref()),
            ],
            &options,
        ),
        (
            vec![SourceFile::from_bytes(
                "x.json",
                bytes.to_vec(),
                SMALL_FILE_BYTES,
            )],
            &small,
        ),
    ];
    sets.iter()
        .map(|(files, options)| consume(&load(files, options)))
        .sum()
}

/// Uses a load's outcome as the daemon does: every message formatted, every valid service
/// rendered and hashed.
fn consume(outcome: &LoadOutcome) -> usize {
    let provenance = Provenance {
        repository: "git:github.com/acme/deploy@main".to_string(),
        revision: Some("0123456789abcdef".to_string()),
    };
    let mut written = 0;
    for diagnostic in outcome.invalid.iter().flat_map(|i| &i.diagnostics) {
        written += diagnostic.to_string().len();
    }
    for diagnostic in &outcome.warnings {
        written += diagnostic.to_string().len();
    }
    for service in &outcome.services {
        written += render::register_task_definition(service, &provenance)
            .to_string()
            .len();
        written += render::create_service(service, &provenance)
            .to_string()
            .len();
        written += render::spec_hash_text(render::spec_hash(service)).len();
    }
    std::hint::black_box(written);
    outcome.services.len() + outcome.invalid.len()
}
