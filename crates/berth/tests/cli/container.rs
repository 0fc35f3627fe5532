//! The container contract: the Dockerfile, `berth healthcheck`, settings from the environment alone.
//!
//! No Docker engine is needed. The `Dockerfile` is parsed here (line continuations, comments,
//! stages) and held to the rules of docs/operations.md, "The container contract"; each rule is
//! also shown to reject a Dockerfile that breaks it. `berth healthcheck` runs against small
//! fake servers and against a real `berth run`, which is started the way the image starts it:
//! no config file and no flag, only `BERTH_*` variables, a read-only home and working directory,
//! a writable `$TMPDIR`, and (when the tests run as root) the image's uid 10001.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use berth_testkit::http;
use berth_testkit::{Emulator, TestAccount};
use serde_json::{Value, json};

/// The uid the image runs as (`USER 10001:10001`); a test running as root runs `berth` as it.
const IMAGE_UID: u32 = 10001;
const CLUSTER: &str = "prod";

/// `berth healthcheck` with `args`, in an environment holding only `env`.
fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("healthcheck")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run berth healthcheck")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A server on 127.0.0.1 that answers one connection with `status` and sends the request head it
/// read on the channel.
fn answer_once(status: &'static str) -> (SocketAddr, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (heads, received) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        while reader.read_line(&mut head).is_ok_and(|read| read > 0) && !head.ends_with("\r\n\r\n")
        {
        }
        let _ = heads.send(head);
        let reply =
            format!("HTTP/1.1 {status}\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbye");
        let _ = reader.get_mut().write_all(reply.as_bytes());
    });
    (addr, received)
}

fn received_head(heads: &Receiver<String>) -> String {
    heads
        .recv_timeout(Duration::from_secs(10))
        .expect("berth healthcheck never sent a request")
}

#[test]
fn healthcheck_exits_0_on_200_after_one_get_of_the_url() {
    let (addr, heads) = answer_once("200 OK");
    let url = format!("http://{addr}/healthz");
    let output = healthcheck(&["--url", &url], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let head = received_head(&heads);
    assert!(head.starts_with("GET /healthz HTTP/1.1\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("\r\nhost: {addr}\r\n")),
        "{head}"
    );
}

#[test]
fn healthcheck_without_a_url_checks_the_loopback_address_at_the_port_of_berth_listen() {
    // A container that moved the daemon to 0.0.0.0:<port> is checked on 127.0.0.1:<port>.
    let (addr, heads) = answer_once("204 No Content");
    let listen = format!("0.0.0.0:{}", addr.port());
    let output = healthcheck(&[], &[("BERTH_LISTEN", &listen)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let head = received_head(&heads);
    assert!(head.starts_with("GET /healthz HTTP/1.1\r\n"), "{head}");
}

#[test]
fn healthcheck_exits_1_on_503_with_a_one_line_reason() {
    let (addr, heads) = answer_once("503 Service Unavailable");
    let url = format!("http://{addr}/healthz");
    let output = healthcheck(&["--url", &url], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    received_head(&heads);
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains(&url) && message.contains("503"),
        "{message}"
    );
}

#[test]
fn healthcheck_exits_1_when_nothing_listens() {
    let addr = free_addr();
    let url = format!("http://{addr}/healthz");
    let output = healthcheck(&["--url", &url], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("error: GET ") && message.contains(&url),
        "{message}"
    );
}

#[test]
fn healthcheck_gives_up_after_3_seconds_on_a_server_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accepts (the kernel does, from the backlog) and never answers.
    let url = format!("http://{addr}/healthz");
    let started = Instant::now();
    let output = healthcheck(&["--url", &url], &[]);
    let took = started.elapsed();
    drop(listener);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no answer within 3s"),
        "{}",
        stderr(&output)
    );
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(10),
        "took {took:?}"
    );
}

#[test]
fn healthcheck_refuses_what_it_cannot_check() {
    for url in ["https://127.0.0.1:8080/healthz", "not a url", "/healthz"] {
        let output = healthcheck(&["--url", url], &[]);
        assert_eq!(output.status.code(), Some(1), "{url}: {}", stderr(&output));
        assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    }
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A private emulator with the cluster, the image and a VPC the test manifest needs, in moto's
/// default account (the daemon sends no account header).
fn emulator() -> (Emulator, TestAccount, String) {
    let emulator = Emulator::start().expect("emulator");
    let account = emulator.default_account();
    account
        .berth_moto("rollout-seconds", &json!(0.2))
        .expect("berth-moto");
    account
        .ecs("CreateCluster", json!({ "clusterName": CLUSTER }))
        .expect("CreateCluster");
    account.push_image("web", "1.0").expect("push image");
    let network = account.default_network().expect("default VPC");
    let manifest = format!(
        "\
apiVersion: berth/v1
kind: Service
metadata: {{name: web, cluster: {CLUSTER}}}
spec:
  desiredCount: 1
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration: {{subnets: [{subnet}], securityGroups: [{group}]}}
  taskDefinition:
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - name: app
        image: {account}.dkr.ecr.us-east-1.amazonaws.com/web:1.0
",
        subnet = network.subnets[0],
        group = network.security_group,
        account = account.id(),
    );
    (emulator, account, manifest)
}

/// A git repository at `dir` with `web.yaml` committed on `main`; returns the commit.
fn estate(dir: &Path, manifest: &str) -> String {
    std::fs::create_dir(dir).expect("mkdir estate");
    std::fs::write(dir.join("web.yaml"), manifest).expect("write manifest");
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args([
                "-c",
                "user.name=berth test",
                "-c",
                "user.email=test@berth.test",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("run git");
        assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    git(&["init", "--quiet", "-b", "main"]);
    git(&["add", "--all"]);
    git(&["commit", "--quiet", "-m", "the estate"]);
    git(&["rev-parse", "HEAD"])
}

/// Every path under `root` with its size and modification time, sorted.
fn snapshot(root: &Path) -> Vec<(PathBuf, u64, i64, i64)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                stack.push(path.clone());
            }
            found.push((path, meta.len(), meta.mtime(), meta.mtime_nsec()));
        }
    }
    found.sort();
    found
}

/// Gives `root` and everything under it to `uid` (group `uid` too).
fn chown_tree(root: &Path, uid: u32) {
    std::os::unix::fs::lchown(root, Some(uid), Some(uid)).expect("chown");
    for (path, ..) in snapshot(root) {
        std::os::unix::fs::lchown(&path, Some(uid), Some(uid)).expect("chown");
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// A `berth run` process, killed when dropped (its log printed if the test is failing).
struct Daemon {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- berth run log\n{log}");
        }
    }
}

impl Daemon {
    /// Polls `probe` every 50 ms until it returns `Some`; fails at once if the daemon exited.
    fn wait_until<T>(&mut self, what: &str, mut probe: impl FnMut(&Daemon) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(value) = probe(self) {
                return value;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("berth run exited ({exit}) while waiting for {what}");
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn status(&self) -> Option<Value> {
        http::get(self.addr, "/status").ok()?.json().ok()
    }

    /// SIGTERM, then the exit status (within 30 s).
    fn terminate(&mut self) -> std::process::ExitStatus {
        super::daemon::sigterm_and_wait(&mut self.child)
    }
}

/// The directories of the environment-only run: everything under one temporary directory.
struct Sandbox {
    root: tempfile::TempDir,
    /// `HOME` and the working directory: read-only (mode 555).
    home: PathBuf,
    /// `TMPDIR`: the one writable directory.
    tmp: PathBuf,
    /// The git repository the daemon follows.
    estate: PathBuf,
    /// The uid `berth run` runs as: the image's when the tests run as root, else the tests' own.
    uid: Option<u32>,
}

impl Sandbox {
    fn new(manifest: &str) -> (Sandbox, String) {
        let root = tempfile::tempdir().expect("tempdir");
        chmod(root.path(), 0o755);
        let home = root.path().join("home");
        let tmp = root.path().join("tmp");
        let estate_dir = root.path().join("estate");
        std::fs::create_dir(&home).expect("mkdir home");
        std::fs::create_dir(&tmp).expect("mkdir tmp");
        let commit = estate(&estate_dir, manifest);
        let running_as_root = std::fs::metadata(root.path()).expect("metadata").uid() == 0;
        let uid = running_as_root.then_some(IMAGE_UID);
        if let Some(uid) = uid {
            // As the image's user: the repository and TMPDIR are its own; HOME stays root's.
            chown_tree(&estate_dir, uid);
            chown_tree(&tmp, uid);
        }
        chmod(&home, 0o555);
        let sandbox = Sandbox {
            root,
            home,
            tmp,
            estate: estate_dir,
            uid,
        };
        (sandbox, commit)
    }

    /// `berth run` with no argument but `run`: its settings are `BERTH_*` variables only.
    fn start(&self, emulator: &Emulator) -> Daemon {
        let addr = free_addr();
        let log = self.root.path().join("berth.log");
        let log_file = std::fs::File::create(&log).expect("create log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command.arg("run").env_clear();
        berth_testkit::isolate_aws_environment(&mut command)
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmp)
            .env("BERTH_SOURCE_URL", &self.estate)
            .env("BERTH_LISTEN", addr.to_string())
            .env("BERTH_AWS_ENDPOINT_URL", emulator.endpoint())
            .env("BERTH_AWS_REGION", "us-east-1")
            .env("BERTH_LOG_FORMAT", "json")
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        if let Some(uid) = self.uid {
            command.uid(uid).gid(uid);
        }
        let child = command.spawn().expect("start berth run");
        Daemon { child, addr, log }
    }
}

#[test]
fn berth_run_needs_only_berth_variables_a_writable_tmpdir_and_no_root() {
    let _one = super::daemon::one_at_a_time();
    let (emulator, account, manifest) = emulator();
    let (sandbox, commit) = Sandbox::new(&manifest);
    let estate_before = snapshot(&sandbox.estate);
    let mut daemon = sandbox.start(&emulator);

    daemon.wait_until("/healthz answers", |d| {
        http::get(d.addr, "/healthz")
            .ok()
            .filter(|r| r.is_success())
    });
    // The health check a task definition runs finds the daemon through BERTH_LISTEN alone.
    let listen = daemon.addr.to_string();
    let checked = healthcheck(&[], &[("BERTH_LISTEN", &listen)]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));

    let status = daemon.wait_until("prod/web Synced", |d| {
        d.status()
            .filter(|status| status["services"]["prod/web"]["status"] == "Synced")
    });
    assert_eq!(status["revision"], commit, "{status}");
    let described = account
        .ecs(
            "DescribeServices",
            json!({ "cluster": CLUSTER, "services": ["web"] }),
        )
        .expect("DescribeServices");
    assert_eq!(described["services"][0]["status"], "ACTIVE", "{described}");

    let exit = daemon.terminate();
    assert!(exit.success(), "berth run exited {exit}");
    // It wrote nothing in HOME or its working directory, nothing in the repository it follows,
    // and in TMPDIR only the git cache, under its default name.
    assert_eq!(names(&sandbox.home), Vec::<String>::new());
    assert_eq!(snapshot(&sandbox.estate), estate_before);
    assert_eq!(names(&sandbox.tmp), ["berth-git-cache"]);
    if let Some(uid) = sandbox.uid {
        let cache = std::fs::metadata(sandbox.tmp.join("berth-git-cache")).expect("cache");
        assert_eq!(cache.uid(), uid, "the cache was written by the image's uid");
    }
}

/// A small Dockerfile reader and the contract's rules, each a function that lists violations.
mod dockerfile {
    use std::path::Path;

    /// One instruction: its keyword in upper case, its arguments (continuations joined by a
    /// space) and the line it starts on.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Instruction {
        pub keyword: String,
        pub args: String,
        pub line: usize,
    }

    /// A build stage: `FROM image [AS name]` and the instructions up to the next `FROM`.
    #[derive(Debug)]
    pub struct Stage {
        pub image: String,
        pub name: Option<String>,
        pub line: usize,
        pub body: Vec<Instruction>,
    }

    /// The rules of docs/operations.md, "The container contract".
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Rule {
        /// At least two stages: one builds, the last only runs.
        MultiStage,
        /// Every base image is pinned by digest or an exact, fully versioned tag.
        Pinned,
        /// The last stage ends as a numeric, non-root user.
        NonRootUser,
        /// The last stage copies the `berth` binary from an earlier stage, and nothing else.
        OnlyTheBinary,
        /// The last stage installs and runs no compiler or build tool.
        NoCompiler,
        /// `ENTRYPOINT` in exec form, running `berth`.
        Entrypoint,
        /// `CMD ["run"]`: the daemon, with no config file.
        Cmd,
        /// `VOLUME ["/tmp"]`: Fargate mounts a task volume there with the image's own ownership
        /// and mode, so a non-root berth can write its git cache under a read-only root.
        WritableTmp,
    }

    /// Instructions of `text`: `\` continues a line, a line starting with `#` is a comment (also
    /// inside a continuation), blank lines are skipped.
    pub fn parse(text: &str) -> Vec<Instruction> {
        let mut instructions = Vec::new();
        let mut pending: Option<(usize, String)> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (part, continues) = match line.strip_suffix('\\') {
                Some(part) => (part.trim_end(), true),
                None => (line, false),
            };
            match &mut pending {
                Some((_, joined)) => {
                    joined.push(' ');
                    joined.push_str(part);
                }
                None => pending = Some((index + 1, part.to_string())),
            }
            if !continues && let Some((start, joined)) = pending.take() {
                instructions.push(instruction(start, &joined));
            }
        }
        if let Some((start, joined)) = pending {
            instructions.push(instruction(start, &joined));
        }
        instructions
    }

    fn instruction(line: usize, text: &str) -> Instruction {
        let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
            line,
        }
    }

    /// The stages of `text`, split on `FROM` (what comes before the first, such as `ARG`, is
    /// not part of any stage).
    pub fn stages(text: &str) -> Vec<Stage> {
        let mut stages: Vec<Stage> = Vec::new();
        for instruction in parse(text) {
            if instruction.keyword == "FROM" {
                // Flags such as `--platform=...` come first.
                let mut words = instruction
                    .args
                    .split_whitespace()
                    .filter(|word| !word.starts_with("--"));
                let image = words.next().unwrap_or_default().to_string();
                let name = match (words.next(), words.next()) {
                    (Some(kw), Some(name)) if kw.eq_ignore_ascii_case("as") => Some(name.into()),
                    _ => None,
                };
                stages.push(Stage {
                    image,
                    name,
                    line: instruction.line,
                    body: Vec::new(),
                });
            } else if let Some(stage) = stages.last_mut() {
                stage.body.push(instruction);
            }
        }
        stages
    }

    /// Every violation of the contract in `text`, as `(rule, message)`.
    pub fn violations(text: &str) -> Vec<(Rule, String)> {
        let stages = stages(text);
        let Some((last, earlier)) = stages.split_last() else {
            return vec![(Rule::MultiStage, "no FROM".into())];
        };
        let checks: [(Rule, Vec<String>); 8] = [
            (Rule::MultiStage, multi_stage(&stages)),
            (Rule::Pinned, pinned(&stages)),
            (Rule::NonRootUser, non_root_user(last)),
            (Rule::OnlyTheBinary, only_the_binary(last, earlier)),
            (Rule::NoCompiler, no_compiler(last)),
            (Rule::Entrypoint, entrypoint(last)),
            (Rule::Cmd, cmd(last)),
            (Rule::WritableTmp, writable_tmp(last)),
        ];
        checks
            .into_iter()
            .flat_map(|(rule, messages)| messages.into_iter().map(move |m| (rule, m)))
            .collect()
    }

    /// The rules `text` breaks, each once, sorted.
    pub fn broken_rules(text: &str) -> Vec<Rule> {
        let mut rules: Vec<Rule> = violations(text).into_iter().map(|(rule, _)| rule).collect();
        rules.sort();
        rules.dedup();
        rules
    }

    fn multi_stage(stages: &[Stage]) -> Vec<String> {
        if stages.len() >= 2 {
            return Vec::new();
        }
        vec![format!(
            "{} stage(s); build in one, run in another",
            stages.len()
        )]
    }

    fn pinned(stages: &[Stage]) -> Vec<String> {
        let mut messages = Vec::new();
        for (index, stage) in stages.iter().enumerate() {
            let earlier_stage = stages[..index]
                .iter()
                .any(|s| s.name.as_deref() == Some(stage.image.as_str()));
            if !earlier_stage && !is_pinned(&stage.image) {
                messages.push(format!(
                    "line {}: `{}` is not pinned by digest or an exact tag",
                    stage.line, stage.image
                ));
            }
        }
        messages
    }

    /// `image@sha256:<64 hex>`, or `image:tag` whose tag holds a full version: three dotted
    /// numbers (`1.94.1-slim-bookworm`) or a build date (`bookworm-20260316-slim`).
    pub fn is_pinned(image: &str) -> bool {
        if let Some((_, digest)) = image.split_once("@sha256:") {
            return digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
        }
        let name_end = image.rfind('/').map_or(0, |slash| slash + 1);
        let Some((_, tag)) = image[name_end..].split_once(':') else {
            return false;
        };
        let full_version = tag.split(['-', '_']).any(|part| {
            let numbers: Vec<&str> = part.split('.').collect();
            numbers.len() == 3 && numbers.iter().all(|n| is_number(n))
        });
        let build_date = tag
            .split(['-', '_', '.'])
            .any(|part| part.len() == 8 && is_number(part));
        full_version || build_date
    }

    fn is_number(text: &str) -> bool {
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
    }

    fn last<'a>(stage: &'a Stage, keyword: &str) -> Option<&'a Instruction> {
        stage.body.iter().rev().find(|i| i.keyword == keyword)
    }

    fn non_root_user(stage: &Stage) -> Vec<String> {
        let Some(user) = last(stage, "USER") else {
            return vec!["the last stage sets no USER: it would run as root".into()];
        };
        let (uid, gid) = user.args.split_once(':').unwrap_or((&user.args, "1"));
        let numeric_non_root = |id: &str| is_number(id) && !id.trim_start_matches('0').is_empty();
        if numeric_non_root(uid) && numeric_non_root(gid) {
            return Vec::new();
        }
        vec![format!(
            "line {}: USER {} is not a numeric non-root uid (and gid)",
            user.line, user.args
        )]
    }

    fn only_the_binary(stage: &Stage, earlier: &[Stage]) -> Vec<String> {
        let mut messages = Vec::new();
        for copy in stage
            .body
            .iter()
            .filter(|i| ["COPY", "ADD"].contains(&i.keyword.as_str()))
        {
            let words: Vec<&str> = copy.args.split_whitespace().collect();
            let from = words.iter().find_map(|w| w.strip_prefix("--from="));
            let paths: Vec<&str> = words.into_iter().filter(|w| !w.starts_with("--")).collect();
            let sources = paths.split_last().map_or(&[][..], |(_, sources)| sources);
            let from_a_stage = from.is_some_and(|from| {
                earlier
                    .iter()
                    .enumerate()
                    .any(|(index, s)| s.name.as_deref() == Some(from) || from == index.to_string())
            });
            let binary_only = !sources.is_empty()
                && sources
                    .iter()
                    .all(|s| Path::new(s).file_name().is_some_and(|f| f == "berth"));
            if copy.keyword != "COPY" || !from_a_stage || !binary_only {
                messages.push(format!(
                    "line {}: {} {}: the last stage takes only the berth binary, from a build stage",
                    copy.line, copy.keyword, copy.args
                ));
            }
        }
        messages
    }

    /// Compilers and build tools, by command or package name.
    const BUILD_TOOLS: [&str; 11] = [
        "cargo",
        "rustc",
        "rustup",
        "gcc",
        "g++",
        "cc",
        "c++",
        "clang",
        "make",
        "build-essential",
        "musl-tools",
    ];

    fn no_compiler(stage: &Stage) -> Vec<String> {
        let mut messages = Vec::new();
        for run in stage.body.iter().filter(|i| i.keyword == "RUN") {
            let words = run
                .args
                .split(|c: char| c.is_whitespace() || ";&|()<>'\"`".contains(c));
            for word in words {
                let base = word.rsplit('/').next().unwrap_or(word);
                // Versioned compiler packages too: `gcc-12`, `clang-16`.
                let versioned = |tool: &str| {
                    ["gcc", "g++", "clang"].contains(&tool)
                        && base.strip_prefix(tool).is_some_and(|v| v.starts_with('-'))
                };
                let tool = BUILD_TOOLS
                    .iter()
                    .any(|tool| base == *tool || versioned(tool));
                if tool {
                    messages.push(format!("line {}: RUN uses or installs `{word}`", run.line));
                }
            }
        }
        messages
    }

    /// The exec form `["a", "b"]` of an instruction, or `None` for the shell form.
    pub fn exec_form(instruction: &Instruction) -> Option<Vec<String>> {
        serde_json::from_str(&instruction.args).ok()
    }

    fn entrypoint(stage: &Stage) -> Vec<String> {
        let Some(entrypoint) = last(stage, "ENTRYPOINT") else {
            return vec!["the last stage sets no ENTRYPOINT".into()];
        };
        match exec_form(entrypoint) {
            Some(argv)
                if argv
                    .first()
                    .is_some_and(|program| program == "berth" || program.ends_with("/berth")) =>
            {
                Vec::new()
            }
            _ => vec![format!(
                "line {}: ENTRYPOINT {} is not the exec form [\"/usr/local/bin/berth\"]",
                entrypoint.line, entrypoint.args
            )],
        }
    }

    fn writable_tmp(stage: &Stage) -> Vec<String> {
        let declared = stage
            .body
            .iter()
            .filter(|i| i.keyword == "VOLUME")
            .flat_map(|volume| {
                exec_form(volume)
                    .unwrap_or_else(|| volume.args.split_whitespace().map(String::from).collect())
            })
            .any(|path| path.trim_end_matches('/') == "/tmp");
        if declared {
            return Vec::new();
        }
        vec!["the last stage declares no VOLUME /tmp: berth's git cache needs it writable".into()]
    }

    fn cmd(stage: &Stage) -> Vec<String> {
        let Some(cmd) = last(stage, "CMD") else {
            return vec!["the last stage sets no CMD".into()];
        };
        match exec_form(cmd) {
            Some(argv)
                if argv.first().is_some_and(|c| c == "run")
                    && !argv.iter().any(|arg| arg.starts_with("--config")) =>
            {
                Vec::new()
            }
            _ => vec![format!(
                "line {}: CMD {} is not [\"run\"] with settings from the environment",
                cmd.line, cmd.args
            )],
        }
    }
}

/// The repository's `Dockerfile`.
fn the_dockerfile() -> String {
    std::fs::read_to_string(super::workspace_root().join("Dockerfile")).expect("read Dockerfile")
}

#[test]
fn the_dockerfile_keeps_the_container_contract() {
    let text = the_dockerfile();
    let violations = dockerfile::violations(&text);
    assert!(violations.is_empty(), "{violations:#?}");
    // What the rules do not look at, but the contract says: the daemon listens on every
    // interface, and no config file is named.
    let stages = dockerfile::stages(&text);
    let last = stages.last().expect("a stage");
    let env: Vec<&str> = last
        .body
        .iter()
        .filter(|i| i.keyword == "ENV")
        .flat_map(|i| i.args.split_whitespace())
        .collect();
    assert!(env.contains(&"BERTH_LISTEN=0.0.0.0:8080"), "{env:?}");
    // berth sets its malloc parameters itself; a MALLOC_* variable would override them.
    assert!(!env.iter().any(|e| e.starts_with("MALLOC_")), "{env:?}");
    assert!(
        !env.iter().any(|e| e.starts_with("BERTH_CONFIG=")),
        "{env:?}"
    );
    let exposed = last.body.iter().find(|i| i.keyword == "EXPOSE");
    assert_eq!(exposed.map(|i| i.args.as_str()), Some("8080"));
}

#[test]
fn the_parser_joins_continuations_and_skips_comments() {
    let text = "\
# syntax=docker/dockerfile:1
FROM rust:1.94.1-slim-bookworm AS build
RUN apt-get update \\
    # a comment inside the continuation
    && apt-get install -y make \\

    && rm -rf /var/lib/apt/lists/*
  copy --from=build /a /b
";
    let instructions = dockerfile::parse(text);
    let summary: Vec<(&str, &str, usize)> = instructions
        .iter()
        .map(|i| (i.keyword.as_str(), i.args.as_str(), i.line))
        .collect();
    assert_eq!(
        summary,
        [
            ("FROM", "rust:1.94.1-slim-bookworm AS build", 2),
            (
                "RUN",
                "apt-get update && apt-get install -y make && rm -rf /var/lib/apt/lists/*",
                3
            ),
            ("COPY", "--from=build /a /b", 8),
        ]
    );
    let stages = dockerfile::stages(
        "ARG V=1\nFROM --platform=$BUILDPLATFORM a:1.2.3 as b\nRUN x\nFROM c:1.2.3\nUSER 1",
    );
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].image, "a:1.2.3");
    assert_eq!(stages[0].name.as_deref(), Some("b"));
    assert_eq!(stages[1].body[0].args, "1");
}

#[test]
fn pinned_means_a_digest_or_a_fully_versioned_tag() {
    let digest = "0123456789abcdef".repeat(4);
    for image in [
        "rust:1.94.1-slim-bookworm".to_string(),
        "debian:bookworm-20260316-slim".into(),
        "registry.example.com:5000/debian:12.13.0".into(),
        format!("debian@sha256:{digest}"),
        format!("debian:bookworm-slim@sha256:{digest}"),
    ] {
        assert!(
            dockerfile::is_pinned(&image),
            "{image} should count as pinned"
        );
    }
    for image in [
        "rust",
        "rust:latest",
        "rust:1",
        "rust:1.94",
        "rust:1.94-slim-bookworm",
        "debian:bookworm-slim",
        "debian:12-slim",
        "registry.example.com:5000/debian",
        "debian@sha256:abc",
    ] {
        assert!(
            !dockerfile::is_pinned(image),
            "{image} should not count as pinned"
        );
    }
}

/// A Dockerfile that keeps every rule; each test below breaks one.
const GOOD: &str = r#"FROM rust:1.94.1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p berth

FROM debian:bookworm-20260316-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && useradd --system --uid 10001 --no-create-home berth
COPY --from=build /src/target/release/berth /usr/local/bin/berth
VOLUME ["/tmp"]
USER 10001
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["run"]
"#;

/// `GOOD` with its one occurrence of `from` replaced by `to`.
fn good_with(from: &str, to: &str) -> String {
    assert_eq!(GOOD.matches(from).count(), 1, "`{from}` in GOOD");
    GOOD.replacen(from, to, 1)
}

/// Each `(from, to)` edit of `GOOD` breaks exactly `rules`.
fn assert_breaks(rules: &[dockerfile::Rule], edits: &[(&str, &str)]) {
    assert_eq!(dockerfile::broken_rules(GOOD), [], "GOOD itself");
    for (from, to) in edits {
        let text = good_with(from, to);
        assert_eq!(
            dockerfile::broken_rules(&text),
            rules,
            "{from} -> {to}:\n{text}"
        );
    }
}

#[test]
fn the_multi_stage_rule_rejects_one_stage() {
    use dockerfile::Rule::{MultiStage, OnlyTheBinary};
    let (_, run_stage) = GOOD.split_once("\n\n").expect("two stages");
    // With one stage, there is also no stage to copy the binary from.
    assert_eq!(
        dockerfile::broken_rules(run_stage),
        [MultiStage, OnlyTheBinary]
    );
    assert_eq!(dockerfile::broken_rules(""), [MultiStage]);
}

#[test]
fn the_pinning_rule_rejects_moving_tags() {
    assert_breaks(
        &[dockerfile::Rule::Pinned],
        &[
            ("rust:1.94.1-slim-bookworm", "rust:1.94-slim-bookworm"),
            ("rust:1.94.1-slim-bookworm", "rust:latest"),
            ("rust:1.94.1-slim-bookworm", "rust"),
            ("rust:1.94.1-slim-bookworm", "rust:1"),
            ("debian:bookworm-20260316-slim", "debian:bookworm-slim"),
            ("debian:bookworm-20260316-slim", "debian:12"),
        ],
    );
}

#[test]
fn the_user_rule_rejects_root_names_and_no_user() {
    assert_breaks(
        &[dockerfile::Rule::NonRootUser],
        &[
            ("USER 10001\n", ""),
            ("USER 10001", "USER root"),
            ("USER 10001", "USER 0"),
            ("USER 10001", "USER 00:10001"),
            ("USER 10001", "USER 10001:0"),
            ("USER 10001", "USER berth"),
            ("USER 10001", "USER 10001\nUSER root"),
        ],
    );
    assert_eq!(
        dockerfile::broken_rules(&good_with("USER 10001", "USER 10001:10001")),
        []
    );
}

#[test]
fn the_binary_rule_rejects_source_and_other_copies() {
    let binary = "COPY --from=build /src/target/release/berth /usr/local/bin/berth";
    assert_breaks(
        &[dockerfile::Rule::OnlyTheBinary],
        &[
            ("USER 10001", "COPY . /src\nUSER 10001"),
            ("USER 10001", "COPY crates crates\nUSER 10001"),
            ("USER 10001", "COPY Cargo.toml Cargo.lock ./\nUSER 10001"),
            ("USER 10001", "COPY --from=build /src /src\nUSER 10001"),
            (
                binary,
                "COPY --from=build /src/target/release/berth /src/Cargo.toml /bin/",
            ),
            (binary, "COPY target/release/berth /usr/local/bin/berth"),
            (binary, "ADD https://example.com/berth /usr/local/bin/berth"),
            (
                binary,
                "COPY --from=ghcr.io/acme/berth:1.0.0 /berth /usr/local/bin/berth",
            ),
        ],
    );
    let by_index = good_with("--from=build", "--from=0");
    assert_eq!(dockerfile::broken_rules(&by_index), []);
}

#[test]
fn the_compiler_rule_rejects_build_tools_in_the_last_stage() {
    assert_breaks(
        &[dockerfile::Rule::NoCompiler],
        &[
            ("ca-certificates \\", "ca-certificates build-essential \\"),
            ("ca-certificates \\", "ca-certificates gcc \\"),
            ("ca-certificates \\", "ca-certificates gcc-12 \\"),
            ("ca-certificates \\", "ca-certificates make \\"),
            (
                "ca-certificates \\",
                "ca-certificates && /usr/bin/rustc --version \\",
            ),
            ("USER 10001", "RUN cargo install berth\nUSER 10001"),
            (
                "USER 10001",
                "RUN curl https://sh.rustup.rs | sh; rustup default stable\nUSER 10001",
            ),
        ],
    );
}

#[test]
fn the_entrypoint_rule_wants_berth_in_exec_form() {
    let entrypoint = r#"ENTRYPOINT ["/usr/local/bin/berth"]"#;
    assert_breaks(
        &[dockerfile::Rule::Entrypoint],
        &[
            (entrypoint, "ENTRYPOINT /usr/local/bin/berth"),
            (entrypoint, r#"ENTRYPOINT ["/bin/sh", "-c", "berth"]"#),
            (entrypoint, r#"ENTRYPOINT ["/usr/local/bin/berthd"]"#),
            (&format!("{entrypoint}\n"), ""),
        ],
    );
}

#[test]
fn the_tmp_rule_wants_a_volume_at_tmp() {
    let volume = r#"VOLUME ["/tmp"]"#;
    assert_breaks(
        &[dockerfile::Rule::WritableTmp],
        &[
            (&format!("{volume}\n"), ""),
            (volume, r#"VOLUME ["/var/cache/berth"]"#),
            (volume, "VOLUME /data"),
        ],
    );
    assert_eq!(
        dockerfile::broken_rules(&good_with(volume, "VOLUME /tmp/")),
        []
    );
}

#[test]
fn the_cmd_rule_wants_run_without_a_config_file() {
    let cmd = r#"CMD ["run"]"#;
    assert_breaks(
        &[dockerfile::Rule::Cmd],
        &[
            (cmd, r#"CMD ["run", "--config", "/etc/berth/berth.yaml"]"#),
            (cmd, r#"CMD ["run", "--config=/etc/berth/berth.yaml"]"#),
            (cmd, "CMD run"),
            (cmd, r#"CMD ["validate"]"#),
            (&format!("{cmd}\n"), ""),
        ],
    );
}
