//! The moto emulator process (one shared per test binary, or private to a test) and the isolated
//! [`TestAccount`]s tests use on it, with raw ECS, ECR, EC2 and DynamoDB API calls.
//!
//! moto runs with berth's emulator extension (`deploy/local/berth_moto`, see
//! `deploy/local/README.md`): `python -m berth_moto`, with the Python of the `moto_server` that
//! [`MotoSearch`] finds and `deploy/local` on `PYTHONPATH`. It is moto's own server, patched so
//! that deployments roll out over time (`BERTH_MOTO_ROLLOUT_SECONDS`, inherited from the test
//! process's environment), images listed as failing trip the circuit breaker, and a few fields
//! moto drops are kept. Its `/berth-moto/` endpoints (plain [`http`] requests, with
//! [`ACCOUNT_HEADER`] for one account) change those settings at run time.
//!
//! # Process lifetime
//!
//! moto is not started directly but through a small `/bin/sh` wrapper whose standard input is a
//! pipe from the test process. The wrapper runs the emulator in the background and kills it as
//! soon as that pipe reaches end-of-file, which happens when the test process exits for whatever
//! reason (normal exit, panic, abort, SIGKILL): the kernel closes the write end then. So the
//! shared emulator, which lives in a `static` and is never dropped, still dies with its test
//! binary, without `prctl` or any platform-specific call. A private emulator ([`Emulator::start`])
//! closes the pipe when dropped and waits for the wrapper to exit.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http::{self, Response};
use crate::locate::{MotoSearch, extension_dir, moto_python};
use crate::{EmulatorError, xml};

/// The region every [`TestAccount`] works in.
pub const REGION: &str = "us-east-1";

/// moto's default account: requests without [`ACCOUNT_HEADER`] land in it. [`Emulator::account`]
/// never hands it out.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// The request header that selects the moto account (12 digits) a request works in.
pub const ACCOUNT_HEADER: &str = "x-moto-account-id";

/// How long moto may take to answer. Python imports all of moto at start; on a loaded 2-core CI
/// machine that has been seen to take over 30 s.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a start is tried on a fresh port when the chosen one was taken meanwhile.
const START_ATTEMPTS: u32 = 3;

/// The first account id handed out is `ACCOUNT_BASE + 1`.
const ACCOUNT_BASE: u64 = 200_000_000_000;

const ECS_TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
const ECR_TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921";
const DYNAMODB_TARGET_PREFIX: &str = "DynamoDB_20120810";
/// The `Content-Type` of ECS's and ECR's JSON protocol.
const JSON_1_1: &str = "application/x-amz-json-1.1";
/// The `Content-Type` of DynamoDB's JSON protocol.
const JSON_1_0: &str = "application/x-amz-json-1.0";
const EC2_API_VERSION: &str = "2016-11-15";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Runs `"$@"` (the emulator's command line) in the background and kills it when standard
/// input reaches end-of-file; exits with moto's status when moto exits first.
const WRAPPER: &str = r#"exec 3<&0
"$@" </dev/null 3<&- &
moto=$!
(read -r line <&3; kill "$moto" 2>/dev/null) &
watcher=$!
exec 3<&-
wait "$moto"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

static SHARED: OnceLock<Result<Emulator, EmulatorError>> = OnceLock::new();
static NEXT_ACCOUNT: AtomicU64 = AtomicU64::new(0);

/// A running moto server on 127.0.0.1.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    log: PathBuf,
    child: Child,
}

/// Sets up `command` (a `berth` process) to reach an emulator with the AWS SDK: static test
/// credentials, and nothing from this machine's AWS configuration (profile, config files,
/// instance metadata, an endpoint override, `BERTH_LOG`) that could send it elsewhere or change
/// what it prints. The endpoint itself is the caller's flag or config.
pub fn isolate_aws_environment(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("BERTH_LOG")
}

impl Emulator {
    /// The emulator shared by every test in this process, started on first use on a free port
    /// with the moto installation that [`MotoSearch::from_env`] finds. It lives until the process
    /// exits (see the module docs). A failed start is not retried: every caller gets the error.
    pub fn shared() -> Result<&'static Emulator, EmulatorError> {
        SHARED
            .get_or_init(Emulator::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Starts a private emulator on a free port, stopped when the value is dropped. Costs a
    /// couple of seconds; prefer [`Emulator::shared`] with its own [`TestAccount`] per test.
    pub fn start() -> Result<Emulator, EmulatorError> {
        let program = MotoSearch::from_env().locate()?;
        Emulator::start_with(&program)
    }

    /// Starts a private emulator with the moto installation of the given `moto_server`
    /// executable: its Python runs `python -m berth_moto` (see the module docs).
    pub fn start_with(program: &Path) -> Result<Emulator, EmulatorError> {
        let python = moto_python(program)?;
        let mut attempt = 1;
        loop {
            match Emulator::start_on(program, &python, free_port()?) {
                // Another process took the port between our probe and moto's bind: try another.
                Err(EmulatorError::Exited { ref log_tail, .. })
                    if attempt < START_ATTEMPTS && log_tail.contains("in use") =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn start_on(program: &Path, python: &Path, port: u16) -> Result<Emulator, EmulatorError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log_dir = std::env::temp_dir().join("berth-testkit");
        let log = log_dir.join(format!("moto-{port}.log"));
        let log_error = |source: std::io::Error| EmulatorError::Log {
            path: log.clone(),
            source: Arc::new(source),
        };
        std::fs::create_dir_all(&log_dir).map_err(log_error)?;
        let stdout = File::create(&log).map_err(log_error)?;
        let stderr = stdout.try_clone().map_err(log_error)?;

        let mut python_path = vec![extension_dir()];
        python_path.extend(std::env::split_paths(
            &std::env::var_os("PYTHONPATH").unwrap_or_default(),
        ));
        let python_path = std::env::join_paths(python_path).map_err(|error| {
            EmulatorError::Unexpected(format!("cannot put the extension on PYTHONPATH: {error}"))
        })?;

        let shell = Path::new("/bin/sh");
        let child = Command::new(shell)
            .arg("-c")
            .arg(WRAPPER)
            .arg("berth-moto-wrapper")
            .arg(python)
            .args([
                "-m",
                "berth_moto",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("PYTHONPATH", python_path)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|source| EmulatorError::Spawn {
                program: shell.to_path_buf(),
                source: Arc::new(source),
            })?;

        let mut emulator = Emulator { addr, log, child };
        // On failure, dropping `emulator` stops whatever did start.
        emulator.wait_ready(program)?;
        Ok(emulator)
    }

    fn wait_ready(&mut self, program: &Path) -> Result<(), EmulatorError> {
        let started = Instant::now();
        loop {
            let exited = match self.child.try_wait() {
                Ok(status) => status.map(|status| status.to_string()),
                Err(error) => Some(format!("state unknown: {error}")),
            };
            if let Some(status) = exited {
                return Err(EmulatorError::Exited {
                    program: program.to_path_buf(),
                    status,
                    log: self.log.clone(),
                    log_tail: log_tail(&self.log),
                });
            }
            if http::get(self.addr, "/moto-api/").is_ok_and(|response| response.is_success()) {
                return self.check_extension();
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(EmulatorError::NotReady {
                    endpoint: self.endpoint(),
                    waited: READY_TIMEOUT,
                    log: self.log.clone(),
                    log_tail: log_tail(&self.log),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Fails unless berth's extension answers (its control endpoints exist only with it).
    fn check_extension(&self) -> Result<(), EmulatorError> {
        match http::get(self.addr, "/berth-moto/config") {
            Ok(response) if response.is_success() => Ok(()),
            _ => Err(EmulatorError::Unexpected(format!(
                "{} answers, but not /berth-moto/config: berth's emulator extension \
                 (deploy/local/berth_moto) is not loaded",
                self.endpoint()
            ))),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`: the endpoint override for AWS SDK clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the emulator listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The file receiving moto's output (one line per request).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// A fresh account, unique in this process (never [`DEFAULT_ACCOUNT`]): its state on the
    /// server is isolated from every other account's.
    pub fn account(&self) -> TestAccount {
        let n = NEXT_ACCOUNT.fetch_add(1, Ordering::Relaxed) + 1;
        TestAccount {
            addr: self.addr,
            id: format!("{:012}", ACCOUNT_BASE + n),
            region: REGION,
        }
    }

    /// moto's default account, the one SDK clients use when they send no [`ACCOUNT_HEADER`].
    /// Shared by everything that uses it: prefer [`Emulator::account`] in tests.
    pub fn default_account(&self) -> TestAccount {
        TestAccount {
            addr: self.addr,
            id: DEFAULT_ACCOUNT.to_string(),
            region: REGION,
        }
    }

    /// Wipes all state of every account (`POST /moto-api/reset`); subnet and security group ids
    /// change. On the shared emulator this pulls the ground from under concurrently running
    /// tests: use it on a private emulator, or give each test its own account instead.
    pub fn reset(&self) -> Result<(), EmulatorError> {
        let response = http::request(self.addr, "POST", "/moto-api/reset", &[], &[])?;
        expect_success(
            "POST",
            &format!("{}/moto-api/reset", self.endpoint()),
            response,
        )
        .map(|_| ())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Closing the wrapper's stdin makes it stop moto, then exit.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => {
                    let _ = std::fs::remove_file(&self.log);
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reserves a port the OS considers free right now (it is released again before moto binds it).
fn free_port() -> Result<u16, EmulatorError> {
    let free_port_error = |source| EmulatorError::FreePort {
        source: Arc::new(source),
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(free_port_error)?;
    Ok(listener.local_addr().map_err(free_port_error)?.port())
}

/// The last lines of a log file (or a note that it cannot be read).
fn log_tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }
        Err(error) => format!("(log unreadable: {error})"),
    }
}

fn expect_success(method: &str, url: &str, response: Response) -> Result<Response, EmulatorError> {
    if response.is_success() {
        Ok(response)
    } else {
        Err(EmulatorError::Status {
            method: method.to_string(),
            url: url.to_string(),
            status: response.status,
            body: response.text(),
        })
    }
}

/// The default VPC of an account: what `CreateService`'s `awsvpcConfiguration` must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The default VPC's id.
    pub vpc: String,
    /// The default VPC's subnet ids, in the order EC2 lists them (at least two).
    pub subnets: Vec<String>,
    /// The default VPC's `default` security group id.
    pub security_group: String,
}

/// One moto account on an [`Emulator`]: every call made through it carries [`ACCOUNT_HEADER`]
/// with [`TestAccount::id`], so its clusters, repositories and VPCs are its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestAccount {
    addr: SocketAddr,
    id: String,
    region: &'static str,
}

impl TestAccount {
    /// The 12-digit account id; AWS SDK clients must send it in [`ACCOUNT_HEADER`] to see this
    /// account's state. ARNs moto hands out for this account carry it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The emulator's base URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The region calls are made in ([`REGION`] unless [`TestAccount::in_region`] said
    /// otherwise).
    pub fn region(&self) -> &'static str {
        self.region
    }

    /// The same account in another region: moto keeps each region's state apart, as AWS does.
    pub fn in_region(&self, region: &'static str) -> TestAccount {
        TestAccount {
            region,
            ..self.clone()
        }
    }

    /// `POST /berth-moto/<setting>` with `body`, for this account only (the settings the
    /// extension takes, e.g. `failing-images`, are in `deploy/local/berth_moto`).
    pub fn berth_moto(&self, setting: &str, body: &Value) -> Result<(), EmulatorError> {
        let path = format!("/berth-moto/{setting}");
        let response = http::post_json(self.addr, &path, &[(ACCOUNT_HEADER, self.id())], body)?;
        if response.is_success() {
            return Ok(());
        }
        Err(EmulatorError::Status {
            method: "POST".into(),
            url: format!("{}{path}", self.endpoint()),
            status: response.status,
            body: response.text(),
        })
    }

    /// Calls an ECS operation (e.g. `"CreateCluster"`) with a JSON request body and returns the
    /// JSON response; an error answer becomes [`EmulatorError::Api`].
    pub fn ecs(&self, operation: &str, body: Value) -> Result<Value, EmulatorError> {
        self.json_call("ecs", ECS_TARGET_PREFIX, JSON_1_1, operation, &body)
    }

    /// Calls an ECR operation (e.g. `"DescribeImages"`); see [`TestAccount::ecs`].
    pub fn ecr(&self, operation: &str, body: Value) -> Result<Value, EmulatorError> {
        self.json_call("ecr", ECR_TARGET_PREFIX, JSON_1_1, operation, &body)
    }

    /// Calls a DynamoDB operation (e.g. `"GetItem"`); see [`TestAccount::ecs`].
    pub fn dynamodb(&self, operation: &str, body: Value) -> Result<Value, EmulatorError> {
        self.json_call(
            "dynamodb",
            DYNAMODB_TARGET_PREFIX,
            JSON_1_0,
            operation,
            &body,
        )
    }

    /// Creates a DynamoDB table shaped as berth's lease table: partition key `key` (a string),
    /// billed per request.
    pub fn create_lease_table(&self, name: &str) -> Result<(), EmulatorError> {
        self.dynamodb(
            "CreateTable",
            json!({
                "TableName": name,
                "AttributeDefinitions": [{ "AttributeName": "key", "AttributeType": "S" }],
                "KeySchema": [{ "AttributeName": "key", "KeyType": "HASH" }],
                "BillingMode": "PAY_PER_REQUEST",
            }),
        )
        .map(|_| ())
    }

    /// Calls an EC2 query-protocol action (e.g. `"DescribeSubnets"`) with form parameters such
    /// as `("Filter.1.Name", "vpc-id")` and returns the XML response text.
    pub fn ec2(&self, action: &str, params: &[(&str, &str)]) -> Result<String, EmulatorError> {
        let mut form = format!("Action={}&Version={EC2_API_VERSION}", form_encode(action));
        for (name, value) in params {
            form.push('&');
            form.push_str(&form_encode(name));
            form.push('=');
            form.push_str(&form_encode(value));
        }
        let authorization = authorization("ec2", self.region);
        let response = http::request(
            self.addr,
            "POST",
            "/",
            &[
                (
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
                (ACCOUNT_HEADER, &self.id),
                ("Authorization", &authorization),
            ],
            form.as_bytes(),
        )?;
        let text = response.text();
        if response.is_success() {
            Ok(text)
        } else {
            Err(EmulatorError::Api {
                service: "ec2".to_string(),
                operation: action.to_string(),
                status: response.status,
                code: xml::first(&text, "Code").unwrap_or_default(),
                message: xml::first(&text, "Message").unwrap_or(text),
            })
        }
    }

    /// The account's default VPC with its subnets and default security group, looked up with
    /// `DescribeVpcs`, `DescribeSubnets` and `DescribeSecurityGroups` (moto makes new ids on
    /// every start and reset, and per account).
    pub fn default_network(&self) -> Result<Network, EmulatorError> {
        let vpcs = self.ec2(
            "DescribeVpcs",
            &[
                ("Filter.1.Name", "is-default"),
                ("Filter.1.Value.1", "true"),
            ],
        )?;
        let vpc = xml::first(&vpcs, "vpcId")
            .ok_or_else(|| EmulatorError::Unexpected("DescribeVpcs: no default VPC".into()))?;

        let subnets = self.ec2(
            "DescribeSubnets",
            &[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", &vpc)],
        )?;
        let subnets = xml::values(&subnets, "subnetId");
        if subnets.len() < 2 {
            return Err(EmulatorError::Unexpected(format!(
                "DescribeSubnets: the default VPC {vpc} has {} subnet(s), expected at least 2",
                subnets.len()
            )));
        }

        // Filtered down to one group, whose own <groupId> comes before any in its rules.
        let groups = self.ec2(
            "DescribeSecurityGroups",
            &[
                ("Filter.1.Name", "vpc-id"),
                ("Filter.1.Value.1", &vpc),
                ("Filter.2.Name", "group-name"),
                ("Filter.2.Value.1", "default"),
            ],
        )?;
        let security_group = xml::first(&groups, "groupId").ok_or_else(|| {
            EmulatorError::Unexpected(format!(
                "DescribeSecurityGroups: the default VPC {vpc} has no default security group"
            ))
        })?;

        Ok(Network {
            vpc,
            subnets,
            security_group,
        })
    }

    /// Pushes a small fake image manifest as `repository:tag` (creating the repository when
    /// missing) and returns the image digest ECR reports. Each repository and tag gets its own
    /// manifest, hence its own digest; pushing the same one again returns the same digest.
    pub fn push_image(&self, repository: &str, tag: &str) -> Result<String, EmulatorError> {
        match self.ecr("CreateRepository", json!({ "repositoryName": repository })) {
            Err(error) if error.api_code() != Some("RepositoryAlreadyExistsException") => {
                return Err(error);
            }
            _ => {}
        }
        let pushed = self.ecr(
            "PutImage",
            json!({
                "repositoryName": repository,
                "imageTag": tag,
                "imageManifest": fake_manifest(repository, tag),
                "imageManifestMediaType": MANIFEST_MEDIA_TYPE,
            }),
        );
        let digest = match pushed {
            Ok(out) => out
                .pointer("/image/imageId/imageDigest")
                .and_then(Value::as_str)
                .map(str::to_string),
            Err(error) if error.api_code() == Some("ImageAlreadyExistsException") => self
                .ecr(
                    "DescribeImages",
                    json!({ "repositoryName": repository, "imageIds": [{ "imageTag": tag }] }),
                )?
                .pointer("/imageDetails/0/imageDigest")
                .and_then(Value::as_str)
                .map(str::to_string),
            Err(error) => return Err(error),
        };
        digest.ok_or_else(|| {
            EmulatorError::Unexpected(format!("PutImage {repository}:{tag}: no image digest"))
        })
    }

    fn json_call(
        &self,
        service: &str,
        target_prefix: &str,
        content_type: &str,
        operation: &str,
        body: &Value,
    ) -> Result<Value, EmulatorError> {
        let target = format!("{target_prefix}.{operation}");
        let authorization = authorization(service, self.region);
        let response = http::post_json(
            self.addr,
            "/",
            &[
                ("X-Amz-Target", &target),
                ("Content-Type", content_type),
                (ACCOUNT_HEADER, &self.id),
                ("Authorization", &authorization),
            ],
            body,
        )?;
        if response.is_success() {
            return response.json();
        }
        let parsed = response.json().ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|value| value.get(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let code = field("__type")
            .or_else(|| response.header("x-amzn-errortype").map(str::to_string))
            .map(|code| {
                // `__type` may be `namespace#Code`, the header `Code:http://…`.
                let code = code.rsplit('#').next().unwrap_or_default();
                code.split(':').next().unwrap_or_default().to_string()
            })
            .unwrap_or_default();
        let message = field("message")
            .or_else(|| field("Message"))
            .unwrap_or_else(|| response.text().chars().take(500).collect());
        Err(EmulatorError::Api {
            service: service.to_string(),
            operation: operation.to_string(),
            status: response.status,
            code,
            message,
        })
    }
}

/// A SigV4-shaped `Authorization` header. moto does not check signatures, but it picks the
/// service (and region) to route a request to from the credential scope; without the header
/// a JSON request lands in its S3 fallback.
fn authorization(service: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn form_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A well-formed image manifest, distinct per repository and tag. moto derives an image's digest
/// from its layer digests, so the layer digest is what makes the image unique.
fn fake_manifest(repository: &str, tag: &str) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1024,
            "digest": fake_digest(&format!("config:{repository}:{tag}")),
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 4096,
            "digest": fake_digest(&format!("layer:{repository}:{tag}")),
        }],
    })
    .to_string()
}

/// A `sha256:`-shaped digest derived from `text` (FNV-1a, not SHA-256: nothing checks blobs).
fn fake_digest(text: &str) -> String {
    let mut digest = String::from("sha256:");
    for seed in 0u64..4 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        digest.push_str(&format!("{hash:016x}"));
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_reserved_characters() {
        assert_eq!(form_encode("Filter.1.Value.1"), "Filter.1.Value.1");
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn fake_digests_are_well_formed_and_distinct() {
        let a = fake_digest("layer:web:1.4.2");
        let b = fake_digest("layer:web:1.5.0");
        assert_eq!(a.len(), "sha256:".len() + 64);
        assert!(a["sha256:".len()..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(a, fake_digest("layer:web:1.4.2"));
    }

    #[test]
    fn authorization_names_the_service_in_the_credential_scope() {
        assert!(authorization("ecr", REGION).contains("/us-east-1/ecr/aws4_request,"));
    }
}
