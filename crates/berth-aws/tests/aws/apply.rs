//! Applying to live (emulated) ECS: the calls berth makes and how rollouts end.
//!
//! Issue 4's acceptance against the emulator (moto + berth's extension, which gives
//! deployments a life: a new PRIMARY on every task definition change, COMPLETED after the
//! account's rollout time, a circuit-breaker rollback with ECS-worded events for failing images).
//! Each test works in its own account with a short rollout time (0.2 s) and follows rollouts
//! every 100 ms. Mutating calls are counted with the adapter's own counters.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_aws::Aws;
use berth_core::image::EcrImage;
use berth_core::live::{
    Deployment, ImageResolution, LiveService, LiveTaskDefinition, ServiceEvent, ServiceLookup,
};
use berth_core::manifest::{LoadOptions, LoadOutcome, ServiceId, SourceFile, Vars, load};
use berth_core::model::ecs::{ServiceSpec, TaskDefinitionSpec};
use berth_core::plan::{Action, Ownership, Plan, plan};
use berth_core::render::Provenance;
use berth_engine::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use berth_engine::ports::{EcsRead, EcsWrite, ImageRegistry, ServiceUpdate};
use berth_engine::read_live;
use berth_engine::rollout::{RolloutObserver, RolloutTiming};
use berth_testkit::{ACCOUNT_HEADER, Network, TestAccount};
use serde_json::json;

use super::{adapter, counts, emulator_account};

const REPOSITORY: &str = "https://github.com/acme/deploy.git";

/// The calls that change ECS.
const MUTATING: &[&str] = &[
    "RegisterTaskDefinition",
    "CreateService",
    "UpdateService",
    "TagResource",
    "UntagResource",
    "DeleteService",
    "DeregisterTaskDefinition",
];

/// Rollout time of every test account, in seconds.
const ROLLOUT_SECONDS: f64 = 0.2;

// --- emulator set-up -------------------------------------------------------------------------

fn addr(account: &TestAccount) -> SocketAddr {
    account
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("the emulator's address")
}

/// `POST /berth-moto/<setting>` for this account only.
fn berth_moto(account: &TestAccount, setting: &str, body: serde_json::Value) {
    let response = berth_testkit::http::post_json(
        addr(account),
        &format!("/berth-moto/{setting}"),
        &[(ACCOUNT_HEADER, account.id())],
        &body,
    )
    .expect("berth-moto endpoint");
    assert!(response.is_success(), "{setting}: {}", response.text());
}

/// A fresh account with clusters `prod` and `staging`, the given images pushed, and the short
/// rollout time; returns it with its default network.
fn prepared_account(images: &[(&str, &str)]) -> (TestAccount, Network) {
    let account = emulator_account();
    berth_moto(&account, "rollout-seconds", json!(ROLLOUT_SECONDS));
    for cluster in ["prod", "staging"] {
        account
            .ecs("CreateCluster", json!({ "clusterName": cluster }))
            .expect("CreateCluster");
    }
    for (repository, tag) in images {
        account.push_image(repository, tag).expect("push image");
    }
    let network = account.default_network().expect("default VPC");
    (account, network)
}

/// The variables the example manifests (and this file's own) use, for this account.
fn vars(account: &TestAccount, network: &Network) -> Vars {
    [
        ("ACCOUNT", account.id().to_string()),
        ("REGION", account.region().to_string()),
        ("SUBNET_A", network.subnets[0].clone()),
        ("SUBNET_B", network.subnets[1].clone()),
        ("SECURITY_GROUP", network.security_group.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

// --- manifests -------------------------------------------------------------------------------

/// Every `*.yaml` under `dir`, paths relative to it, sorted.
fn read_dir(dir: &Path) -> Vec<SourceFile> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<SourceFile>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, files);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(SourceFile::new(
                    path.strip_prefix(root)
                        .expect("below the root")
                        .to_string_lossy()
                        .replace('\\', "/"),
                    std::fs::read_to_string(&path).expect("read manifest"),
                ));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn load_valid(files: &[SourceFile], vars: &Vars) -> LoadOutcome {
    let outcome = load(
        files,
        &LoadOptions {
            vars: vars.clone(),
            ..LoadOptions::default()
        },
    );
    assert!(outcome.is_valid(), "{:#?}", outcome.invalid);
    outcome
}

/// The example estate in `manifests/` (7 services in `prod` and `staging`).
fn example_estate(vars: &Vars) -> LoadOutcome {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests");
    load_valid(&read_dir(&root), vars)
}

/// The ECR images the example manifests name.
const EXAMPLE_IMAGES: &[(&str, &str)] = &[
    ("web", "1.4.2"),
    ("web", "1.5.0"),
    ("api", "2.0.1"),
    ("api", "2.1.0"),
    ("worker", "3.1.0"),
    ("billing", "0.9.0"),
];

/// One service of a synthetic estate in cluster `prod`.
#[derive(Clone)]
struct Svc {
    name: &'static str,
    /// `repository:tag` in the account's ECR.
    image: String,
    desired: u32,
    depends_on: Option<&'static str>,
    suspend: bool,
}

impl Svc {
    fn new(name: &'static str, image: &str) -> Self {
        Svc {
            name,
            image: image.to_string(),
            desired: 2,
            depends_on: None,
            suspend: false,
        }
    }

    fn yaml(&self) -> String {
        let mut depends_on = self
            .depends_on
            .map(|d| format!("  dependsOn: [{d}]\n"))
            .unwrap_or_default();
        if self.suspend {
            depends_on.push_str("  suspend: true\n");
        }
        format!(
            "\
apiVersion: berth/v1
kind: Service
metadata:
  name: {name}
  cluster: prod
{depends_on}spec:
  desiredCount: {desired}
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration:
      subnets: ['${{SUBNET_A}}', '${{SUBNET_B}}']
      securityGroups: ['${{SECURITY_GROUP}}']
      assignPublicIp: DISABLED
  deploymentConfiguration:
    minimumHealthyPercent: 100
    maximumPercent: 200
    deploymentCircuitBreaker: {{enable: true, rollback: true}}
  tags: [{{key: team, value: payments}}]
  taskDefinition:
    cpu: '256'
    memory: '512'
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - name: app
        image: ${{ACCOUNT}}.dkr.ecr.${{REGION}}.amazonaws.com/{image}
        portMappings: [{{containerPort: 8080}}]
        environment: [{{name: SERVICE, value: {name}}}, {{name: LOG_LEVEL, value: info}}]
",
            name = self.name,
            desired = self.desired,
            image = self.image,
        )
    }
}

fn estate(services: &[Svc], vars: &Vars) -> LoadOutcome {
    let files: Vec<SourceFile> = services
        .iter()
        .map(|s| SourceFile::new(format!("prod/{}.yaml", s.name), s.yaml()))
        .collect();
    load_valid(&files, vars)
}

// --- applying --------------------------------------------------------------------------------

fn options(revision: &str) -> ApplyOptions {
    ApplyOptions {
        concurrency: 8,
        rollout: RolloutTiming {
            deadline: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
        },
        follow: true,
        provenance: Provenance {
            repository: REPOSITORY.into(),
            revision: Some(revision.into()),
        },
    }
}

async fn plan_only<E: EcsRead, R: ImageRegistry>(
    ecs: &E,
    registry: &R,
    outcome: &LoadOutcome,
) -> (Plan, berth_core::plan::LiveState) {
    let live = read_live(ecs, registry, &outcome.services, &outcome.invalid)
        .await
        .expect("read live state");
    let plan = plan(
        &outcome.services,
        &outcome.invalid,
        &live,
        &Ownership::new(REPOSITORY),
    );
    (plan, live)
}

async fn plan_and_apply<E: EcsWrite, R: ImageRegistry>(
    ecs: &E,
    registry: &R,
    outcome: &LoadOutcome,
    revision: &str,
    observer: &dyn ApplyObserver,
) -> Vec<ServiceReport> {
    let (plan, live) = plan_only(ecs, registry, outcome).await;
    apply(
        ecs,
        &plan,
        &outcome.services,
        &live,
        &options(revision),
        observer,
    )
    .await
}

fn report_of<'a>(reports: &'a [ServiceReport], cluster: &str, name: &str) -> &'a ServiceReport {
    reports
        .iter()
        .find(|r| r.id.as_ref() == Some(&ServiceId::new(cluster, name)))
        .unwrap_or_else(|| panic!("no report for {cluster}/{name}: {reports:#?}"))
}

/// Successful calls of every mutating operation so far.
fn mutations(aws: &Aws) -> BTreeMap<&'static str, u64> {
    MUTATING
        .iter()
        .map(|op| (*op, counts(aws, op).get("success").copied().unwrap_or(0)))
        .collect()
}

fn calls_by_operation(aws: &Aws) -> BTreeMap<String, u64> {
    let mut all = BTreeMap::new();
    for ((operation, _), n) in aws.counters().snapshot() {
        *all.entry(operation).or_default() += n;
    }
    all
}

async fn describe(aws: &Aws, cluster: &str, name: &str) -> LiveService {
    match aws
        .describe_services(cluster, &[name.to_string()])
        .await
        .expect("DescribeServices")
        .remove(0)
    {
        ServiceLookup::Found(service) => *service,
        ServiceLookup::Missing(id) => panic!("{id} missing"),
    }
}

/// The family's revisions, oldest first (any status).
async fn revisions(aws: &Aws, family: &str) -> Vec<String> {
    aws.ecs_client()
        .list_task_definitions()
        .family_prefix(family)
        .send()
        .await
        .expect("ListTaskDefinitions")
        .task_definition_arns()
        .iter()
        .filter(|arn| arn.contains(&format!("task-definition/{family}:")))
        .cloned()
        .collect()
}

/// What the apply reported, with when.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().expect("log").push(line);
    }
    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log").clone()
    }
}

impl RolloutObserver for Log {
    fn event(&self, id: &ServiceId, event: &ServiceEvent) {
        self.push(format!("event {id} {} {}", event.id, event.message));
    }
    fn progress(&self, id: &ServiceId, primary: &Deployment) {
        self.push(format!(
            "progress {id} {} {}/{}",
            primary.rollout_state.as_deref().unwrap_or("-"),
            primary.running_count,
            primary.desired_count
        ));
    }
}

impl ApplyObserver for Log {
    fn action(&self, id: &ServiceId, action: &AppliedAction) {
        self.push(format!("action {id} {action:?}"));
    }
    fn finished(&self, report: &ServiceReport) {
        self.push(format!("finished {:?} {:?}", report.id, report.outcome));
    }
}

// --- a wrapping adapter: call order, and a process that dies mid-apply --------------------------

/// One call through [`Wrapped`].
#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    operation: &'static str,
    /// Service name, or task definition family.
    subject: String,
    /// For DescribeServices: each PRIMARY's `rolloutState` and task definition.
    detail: String,
}

/// The engine's ports over an [`Aws`], recording every call. With `die_after_register`, a
/// successful RegisterTaskDefinition never returns (after signalling `registered`): dropping
/// the apply future then is what SIGKILL does to the work in flight.
struct Wrapped<'a> {
    aws: &'a Aws,
    calls: Mutex<Vec<Call>>,
    die_after_register: bool,
    registered: tokio::sync::Notify,
}

impl<'a> Wrapped<'a> {
    fn new(aws: &'a Aws) -> Self {
        Wrapped {
            aws,
            calls: Mutex::new(Vec::new()),
            die_after_register: false,
            registered: tokio::sync::Notify::new(),
        }
    }

    fn record(&self, operation: &'static str, subject: &str, detail: String) {
        self.calls.lock().expect("calls").push(Call {
            at: Instant::now(),
            operation,
            subject: subject.to_string(),
            detail,
        });
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }
}

impl EcsRead for Wrapped<'_> {
    type Error = berth_aws::AwsError;

    async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, Self::Error> {
        let lookups = self.aws.describe_services(cluster, names).await?;
        for lookup in &lookups {
            if let ServiceLookup::Found(service) = lookup {
                let primary = service.deployments.iter().find(|d| d.status == "PRIMARY");
                self.record(
                    "DescribeServices",
                    &service.id.name,
                    primary.map_or_else(String::new, |p| {
                        format!(
                            "{} {}",
                            p.rollout_state.as_deref().unwrap_or("-"),
                            p.task_definition_arn
                        )
                    }),
                );
            }
        }
        Ok(lookups)
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<Arc<LiveTaskDefinition>, Self::Error> {
        self.aws.describe_task_definition(arn).await
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, Self::Error> {
        self.aws.list_services(cluster).await
    }
}

impl ImageRegistry for Wrapped<'_> {
    type Error = berth_aws::AwsError;

    async fn describe_images(
        &self,
        images: &[EcrImage],
    ) -> Result<Vec<ImageResolution>, Self::Error> {
        self.aws.describe_images(images).await
    }
}

impl EcsWrite for Wrapped<'_> {
    async fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> Result<Arc<LiveTaskDefinition>, Self::Error> {
        let registered = self.aws.register_task_definition(spec).await?;
        self.record(
            "RegisterTaskDefinition",
            &registered.family,
            registered.arn.clone(),
        );
        if self.die_after_register {
            self.registered.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(registered)
    }

    async fn latest_active_task_definition(
        &self,
        family: &str,
    ) -> Result<Option<Arc<LiveTaskDefinition>>, Self::Error> {
        self.aws.latest_active_task_definition(family).await
    }

    async fn delete_service(&self, id: &ServiceId) -> Result<(), Self::Error> {
        self.aws.delete_service(id).await
    }

    async fn create_service(
        &self,
        id: &ServiceId,
        spec: &ServiceSpec,
        task_definition_arn: &str,
    ) -> Result<LiveService, Self::Error> {
        let created = self
            .aws
            .create_service(id, spec, task_definition_arn)
            .await?;
        self.record("CreateService", &id.name, task_definition_arn.to_string());
        Ok(created)
    }

    async fn update_service(
        &self,
        id: &ServiceId,
        update: &ServiceUpdate,
    ) -> Result<LiveService, Self::Error> {
        // Recorded when the call is made: the order of interest is "made after".
        self.record(
            "UpdateService",
            &id.name,
            update.task_definition_arn.clone().unwrap_or_default(),
        );
        EcsWrite::update_service(self.aws, id, update).await
    }

    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Self::Error> {
        self.aws.tag_resource(arn, tags).await?;
        let name = arn.rsplit('/').next().unwrap_or(arn);
        self.record("TagResource", name, String::new());
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), Self::Error> {
        self.aws.untag_resource(arn, keys).await?;
        let name = arn.rsplit('/').next().unwrap_or(arn);
        self.record("UntagResource", name, keys.join(","));
        Ok(())
    }
}

// --- the acceptance tests ----------------------------------------------------------------------

#[tokio::test]
async fn a_fresh_estate_is_created_pinned_and_owned_then_plans_clean_and_reapplies_nothing() {
    let (account, network) = prepared_account(EXAMPLE_IMAGES);
    let vars = vars(&account, &network);
    let outcome = example_estate(&vars);
    assert_eq!(outcome.services.len(), 7);
    let aws = adapter(&account).await;

    let started = Instant::now();
    let reports = plan_and_apply(&aws, &aws, &outcome, "c0ffee1", &Log::default()).await;
    println!(
        "fresh estate: 7 services applied in {:?}; calls {:?}",
        started.elapsed(),
        calls_by_operation(&aws)
    );
    assert_eq!(reports.len(), 7, "{reports:#?}");
    for report in &reports {
        assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
        assert!(
            report.actions.contains(&AppliedAction::CreatedService),
            "{report:#?}"
        );
    }
    let created = mutations(&aws);
    assert_eq!(created["RegisterTaskDefinition"], 7, "{created:?}");
    assert_eq!(created["CreateService"], 7, "{created:?}");
    assert_eq!(created["UpdateService"], 0, "{created:?}");

    // Pinned digests and ownership tags, on services and task definitions alike.
    let registry = format!("{}.dkr.ecr.us-east-1.amazonaws.com", account.id());
    for manifest in &outcome.services {
        let id = &manifest.id;
        let service = describe(&aws, &id.cluster, &id.name).await;
        let source = format!("{REPOSITORY}#{}", manifest.origin.file);
        let expected_tags = [
            ("berth:managed-by", "berth"),
            ("berth:source", source.as_str()),
            ("berth:revision", "c0ffee1"),
        ];
        for (key, value) in expected_tags {
            assert_eq!(
                service.tags.get(key).map(String::as_str),
                Some(value),
                "{id}: service tag {key}: {:?}",
                service.tags
            );
        }
        assert_eq!(
            service.tags.get("cost-center").map(String::as_str),
            Some("platform"),
            "{id}: the manifest's own tags too"
        );
        let task_definition = aws
            .describe_task_definition(&service.task_definition_arn)
            .await
            .expect("DescribeTaskDefinition");
        assert_eq!(task_definition.family, manifest.family());
        let td_tags: BTreeMap<String, String> = task_definition
            .spec
            .tags
            .iter()
            .flatten()
            .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
            .collect();
        for (key, value) in expected_tags {
            assert_eq!(
                td_tags.get(key).map(String::as_str),
                Some(value),
                "{id}: task definition tag {key}: {td_tags:?}"
            );
        }
        for container in task_definition.spec.container_definitions.iter().flatten() {
            let image = container.image.as_deref().unwrap_or_default();
            if image.starts_with(&registry) {
                let (_, digest) = image
                    .split_once("@sha256:")
                    .unwrap_or_else(|| panic!("{id}: {image} is not pinned to a digest"));
                assert_eq!(digest.len(), 64, "{image}");
            } else {
                assert_eq!(
                    image, "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                    "non-ECR images are used as written"
                );
            }
        }
        let primary = &service.deployments[0];
        assert_eq!(primary.status, "PRIMARY");
        assert_eq!(primary.rollout_state.as_deref(), Some("COMPLETED"));
    }

    // A plan right after: nothing to do.
    let fresh = adapter(&account).await;
    let (plan, _) = plan_only(&fresh, &fresh, &outcome).await;
    for service in &plan.services {
        assert_eq!(
            service.action,
            Action::NoChange,
            "{:?} right after apply",
            service.id
        );
    }
    assert!(!plan.has_changes());

    // A second apply: not one mutating call.
    let before = mutations(&aws);
    let reports = plan_and_apply(&aws, &aws, &outcome, "c0ffee1", &Log::default()).await;
    assert!(
        reports
            .iter()
            .all(|r| r.outcome == ServiceOutcome::Synced && r.actions.is_empty()),
        "{reports:#?}"
    );
    assert_eq!(
        mutations(&aws),
        before,
        "the second apply changed something"
    );
    // Nor with another commit: the revision tag alone is no reason to touch a service.
    let reports = plan_and_apply(&aws, &aws, &outcome, "d00d2", &Log::default()).await;
    assert!(reports.iter().all(|r| r.actions.is_empty()), "{reports:#?}");
    assert_eq!(mutations(&aws), before);
    println!(
        "second and third apply: calls {:?}",
        calls_by_operation(&aws)
    );
}

const FIVE: &[&str] = &["api", "billing", "reports", "web", "worker"];

fn five(image_of: impl Fn(&str) -> String) -> Vec<Svc> {
    FIVE.iter()
        .map(|name| Svc::new(name, &image_of(name)))
        .collect()
}

#[tokio::test]
async fn an_image_bump_in_one_of_five_services_registers_once_and_updates_once() {
    let (account, network) = prepared_account(&[("app", "1.0"), ("app", "1.1")]);
    let vars = vars(&account, &network);
    let aws = adapter(&account).await;
    let initial = estate(&five(|_| "app:1.0".into()), &vars);
    let reports = plan_and_apply(&aws, &aws, &initial, "one", &Log::default()).await;
    assert!(reports.iter().all(|r| r.outcome == ServiceOutcome::Synced));

    let recorder = Wrapped::new(&aws);
    let before = mutations(&aws);
    let bumped = estate(
        &five(|name| if name == "web" { "app:1.1" } else { "app:1.0" }.to_string()),
        &vars,
    );
    let reports = plan_and_apply(&recorder, &recorder, &bumped, "two", &Log::default()).await;
    let after = mutations(&aws);
    let delta: BTreeMap<&str, u64> = after
        .iter()
        .map(|(op, n)| (*op, n - before[op]))
        .filter(|(_, n)| *n > 0)
        .collect();
    println!("image bump in 1 of 5: mutating calls {delta:?}");
    assert_eq!(delta.get("RegisterTaskDefinition"), Some(&1), "{delta:?}");
    assert_eq!(delta.get("UpdateService"), Some(&1), "{delta:?}");
    assert_eq!(delta.get("CreateService"), None, "{delta:?}");
    let mutating: Vec<(&str, String)> = recorder
        .calls()
        .into_iter()
        .filter(|c| c.operation != "DescribeServices")
        .map(|c| (c.operation, c.subject))
        .collect();
    assert!(
        mutating.iter().all(|(_, subject)| subject == "web"),
        "only web is touched: {mutating:?}"
    );
    let web = report_of(&reports, "prod", "web");
    assert_eq!(web.outcome, ServiceOutcome::Synced, "{web:#?}");
    for other in ["api", "billing", "reports", "worker"] {
        let report = report_of(&reports, "prod", other);
        assert_eq!(report.outcome, ServiceOutcome::Synced);
        assert!(report.actions.is_empty(), "{report:#?}");
    }
    let live = describe(&aws, "prod", "web").await;
    assert!(live.task_definition_arn.ends_with(":task-definition/web:2"));
    assert_eq!(
        live.tags.get("berth:revision").map(String::as_str),
        Some("two")
    );
    assert_eq!(revisions(&aws, "api").await.len(), 1);
}

#[tokio::test]
async fn a_process_killed_right_after_register_leaves_no_duplicate_revision() {
    let (account, network) = prepared_account(&[("app", "1.0"), ("app", "1.1")]);
    let vars = vars(&account, &network);
    let first_process = adapter(&account).await;
    let services = [Svc::new("web", "app:1.0"), Svc::new("api", "app:1.0")];
    plan_and_apply(
        &first_process,
        &first_process,
        &estate(&services, &vars),
        "one",
        &Log::default(),
    )
    .await;
    let bumped = estate(
        &[Svc::new("web", "app:1.1"), Svc::new("api", "app:1.0")],
        &vars,
    );

    // The process dies right after RegisterTaskDefinition: the apply future is dropped there.
    let mut dying = Wrapped::new(&first_process);
    dying.die_after_register = true;
    {
        let log = Log::default();
        let applying = plan_and_apply(&dying, &dying, &bumped, "two", &log);
        tokio::select! {
            biased;
            () = dying.registered.notified() => {}
            reports = applying => panic!("the apply should have died: {reports:#?}"),
        }
    }
    assert_eq!(
        counts(&first_process, "RegisterTaskDefinition").get("success"),
        Some(&3),
        "2 created, then 1 before dying"
    );
    assert_eq!(counts(&first_process, "UpdateService").get("success"), None);
    let after_crash = revisions(&first_process, "web").await;
    assert_eq!(after_crash.len(), 2, "{after_crash:?}");
    let web = describe(&first_process, "prod", "web").await;
    assert!(
        web.task_definition_arn.ends_with("web:1"),
        "not updated yet"
    );

    // A new process: nothing cached, nothing remembered.
    let second_process = adapter(&account).await;
    let log = Log::default();
    let reports = plan_and_apply(&second_process, &second_process, &bumped, "two", &log).await;
    let report = report_of(&reports, "prod", "web");
    assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
    assert_eq!(
        report.actions.first(),
        Some(&AppliedAction::ReusedTaskDefinition {
            arn: after_crash[1].clone()
        }),
        "{report:#?}"
    );
    println!(
        "restarted apply after a crash: calls {:?}",
        calls_by_operation(&second_process)
    );
    assert_eq!(
        counts(&second_process, "RegisterTaskDefinition").get("success"),
        None,
        "no second revision"
    );
    assert_eq!(
        counts(&second_process, "UpdateService").get("success"),
        Some(&1)
    );
    assert_eq!(revisions(&second_process, "web").await, after_crash);
    let web = describe(&second_process, "prod", "web").await;
    assert_eq!(web.task_definition_arn, after_crash[1]);
    assert_eq!(web.deployments.len(), 1, "{:#?}", web.deployments);
    assert_eq!(web.deployments[0].task_definition_arn, after_crash[1]);
    assert_eq!(
        web.deployments[0].rollout_state.as_deref(),
        Some("COMPLETED")
    );
    assert!(report_of(&reports, "prod", "api").actions.is_empty());

    // And it is settled: a plan now is clean.
    let (plan, _) = plan_only(&second_process, &second_process, &bumped).await;
    assert!(!plan.has_changes(), "{plan:#?}");
}

#[tokio::test]
async fn a_failing_image_is_rolled_back_and_reported_with_ecs_events_while_others_converge() {
    let (account, network) = prepared_account(&[("app", "1.0"), ("app", "1.1"), ("app", "broken")]);
    berth_moto(&account, "failing-images", json!(["app:broken"]));
    let vars = vars(&account, &network);
    let aws = adapter(&account).await;
    let services = [
        Svc::new("web", "app:1.0"),
        Svc::new("api", "app:1.0"),
        Svc::new("worker", "app:1.0"),
    ];
    plan_and_apply(
        &aws,
        &aws,
        &estate(&services, &vars),
        "one",
        &Log::default(),
    )
    .await;
    let web_before = describe(&aws, "prod", "web").await.task_definition_arn;

    let mut next = services.to_vec();
    next[0].image = "app:broken".into();
    next[1].image = "app:1.1".into();
    next[2].desired = 3;
    let log = Log::default();
    let started = Instant::now();
    let reports = plan_and_apply(&aws, &aws, &estate(&next, &vars), "two", &log).await;
    println!("failing image among 3 applied in {:?}", started.elapsed());

    let web = report_of(&reports, "prod", "web");
    let ServiceOutcome::Failed { reason, events } = &web.outcome else {
        panic!("{web:#?}")
    };
    println!("web failed: {reason}");
    for event in events {
        println!("  ECS: {}", event.message);
    }
    assert!(
        reason.contains("rolled back") || reason.contains("circuit breaker"),
        "{reason}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.message.contains("deployment failed")),
        "{events:#?}"
    );
    assert!(
        events.iter().any(|e| e.message.contains("rolling back")),
        "{events:#?}"
    );
    assert!(
        matches!(
            web.actions[..],
            [
                AppliedAction::RegisteredTaskDefinition { .. },
                AppliedAction::UpdatedService { .. },
                ..
            ]
        ),
        "{web:#?}"
    );
    // ECS put the old revision back.
    let live_web = describe(&aws, "prod", "web").await;
    assert_eq!(live_web.task_definition_arn, web_before);

    // The events were reported as they appeared, once each.
    let web_events: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("event prod/web "))
        .collect();
    let mut unique = web_events.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), web_events.len(), "{web_events:#?}");
    assert!(
        web_events.iter().any(|l| l.contains("deployment failed")),
        "{web_events:#?}"
    );

    // The others converged in the same apply.
    for (name, fields) in [("api", "taskDefinition"), ("worker", "desiredCount")] {
        let report = report_of(&reports, "prod", name);
        assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
        assert!(
            report.actions.iter().any(|a| matches!(
                a,
                AppliedAction::UpdatedService { fields: f } if f == &[fields.to_string()]
            )),
            "{report:#?}"
        );
    }
    let worker = describe(&aws, "prod", "worker").await;
    assert_eq!(
        (worker.running_count, worker.spec.desired_count),
        (3, Some(3))
    );
}

#[tokio::test]
async fn a_missing_ecr_tag_fails_that_service_before_registering_and_others_apply() {
    let (account, network) = prepared_account(&[("app", "1.0")]);
    let vars = vars(&account, &network);
    let aws = adapter(&account).await;
    let services = [
        Svc::new("web", "app:9.9.9"),
        Svc::new("api", "app:1.0"),
        Svc::new("worker", "ghost:1"),
    ];
    let recorder = Wrapped::new(&aws);
    let reports = plan_and_apply(
        &recorder,
        &recorder,
        &estate(&services, &vars),
        "one",
        &Log::default(),
    )
    .await;
    for (name, missing) in [("web", "app:9.9.9"), ("worker", "ghost:1")] {
        let report = report_of(&reports, "prod", name);
        let ServiceOutcome::Failed { reason, .. } = &report.outcome else {
            panic!("{report:#?}")
        };
        println!("{name}: {reason}");
        assert!(
            reason.contains(missing) && reason.contains("not found"),
            "{reason}"
        );
        assert!(report.actions.is_empty(), "{report:#?}");
        assert!(
            revisions(&aws, name).await.is_empty(),
            "nothing registered for {name}"
        );
        assert!(
            recorder
                .calls()
                .iter()
                .all(|c| c.subject != name || c.operation == "DescribeServices"),
            "{:?}",
            recorder.calls()
        );
    }
    let api = report_of(&reports, "prod", "api");
    assert_eq!(api.outcome, ServiceOutcome::Synced, "{api:#?}");
    assert_eq!(
        counts(&aws, "RegisterTaskDefinition").get("success"),
        Some(&1)
    );
    assert_eq!(counts(&aws, "CreateService").get("success"), Some(&1));
    assert_eq!(revisions(&aws, "api").await.len(), 1);
}

/// When the dependency's rollout was first seen COMPLETED on `task_definition`.
fn completed_at(calls: &[Call], name: &str, task_definition: &str) -> Option<Instant> {
    calls
        .iter()
        .find(|c| {
            c.operation == "DescribeServices"
                && c.subject == name
                && c.detail == format!("COMPLETED {task_definition}")
        })
        .map(|c| c.at)
}

#[tokio::test]
async fn a_dependent_is_updated_after_its_dependency_completes_and_skipped_when_it_fails() {
    let (account, network) = prepared_account(&[
        ("app", "1.0"),
        ("app", "1.1"),
        ("app", "1.2"),
        ("app", "broken"),
    ]);
    berth_moto(&account, "failing-images", json!(["app:broken"]));
    let vars = vars(&account, &network);
    let aws = adapter(&account).await;
    let services = |api: &str, web: &str| {
        vec![
            Svc {
                depends_on: Some("api"),
                ..Svc::new("web", web)
            },
            Svc::new("api", api),
        ]
    };

    // Created: web after api's first rollout completed.
    let recorder = Wrapped::new(&aws);
    let reports = plan_and_apply(
        &recorder,
        &recorder,
        &estate(&services("app:1.0", "app:1.0"), &vars),
        "one",
        &Log::default(),
    )
    .await;
    assert!(reports.iter().all(|r| r.outcome == ServiceOutcome::Synced));
    let calls = recorder.calls();
    let api_td = describe(&aws, "prod", "api").await.task_definition_arn;
    let api_done = completed_at(&calls, "api", &api_td).expect("api seen COMPLETED");
    let web_first = calls
        .iter()
        .find(|c| c.subject == "web" && c.operation != "DescribeServices")
        .expect("a call for web");
    assert!(api_done <= web_first.at, "{calls:#?}");

    // Both bumped in one commit: web's UpdateService only after api's rollout completed.
    let recorder = Wrapped::new(&aws);
    let reports = plan_and_apply(
        &recorder,
        &recorder,
        &estate(&services("app:1.1", "app:1.1"), &vars),
        "two",
        &Log::default(),
    )
    .await;
    assert!(
        reports.iter().all(|r| r.outcome == ServiceOutcome::Synced),
        "{reports:#?}"
    );
    let calls = recorder.calls();
    for call in &calls {
        println!(
            "{:>8.3?} {:<22} {:<6} {}",
            call.at.duration_since(calls[0].at),
            call.operation,
            call.subject,
            call.detail
        );
    }
    let api_td = describe(&aws, "prod", "api").await.task_definition_arn;
    assert!(api_td.ends_with("api:2"));
    let api_update = calls
        .iter()
        .position(|c| c.operation == "UpdateService" && c.subject == "api")
        .expect("api updated");
    let api_completed = calls
        .iter()
        .position(|c| {
            c.operation == "DescribeServices"
                && c.subject == "api"
                && c.detail == format!("COMPLETED {api_td}")
        })
        .expect("api seen COMPLETED");
    let web_update = calls
        .iter()
        .position(|c| c.operation == "UpdateService" && c.subject == "web")
        .expect("web updated");
    assert!(
        api_update < api_completed && api_completed < web_update,
        "api UpdateService #{api_update}, COMPLETED #{api_completed}, web UpdateService #{web_update}"
    );
    assert!(calls[api_completed].at <= calls[web_update].at);
    let gap = calls[web_update].at - calls[api_update].at;
    assert!(
        gap >= Duration::from_secs_f64(ROLLOUT_SECONDS),
        "web waited for api's rollout: {gap:?}"
    );

    // api's new image fails: web is skipped, with a reason, and nothing is done to it.
    let recorder = Wrapped::new(&aws);
    let before = mutations(&aws);
    let reports = plan_and_apply(
        &recorder,
        &recorder,
        &estate(&services("app:broken", "app:1.2"), &vars),
        "three",
        &Log::default(),
    )
    .await;
    let api = report_of(&reports, "prod", "api");
    assert!(
        matches!(api.outcome, ServiceOutcome::Failed { .. }),
        "{api:#?}"
    );
    let web = report_of(&reports, "prod", "web");
    let ServiceOutcome::Skipped { reason } = &web.outcome else {
        panic!("{web:#?}")
    };
    println!("web: {reason}");
    assert!(reason.contains("dependency api"), "{reason}");
    assert!(web.actions.is_empty());
    let web_calls: Vec<Call> = recorder
        .calls()
        .into_iter()
        .filter(|c| c.subject == "web" && c.operation != "DescribeServices")
        .collect();
    assert!(web_calls.is_empty(), "{web_calls:?}");
    assert_eq!(revisions(&aws, "web").await.len(), 2, "no web:3");
    let after = mutations(&aws);
    assert_eq!(
        after["UpdateService"] - before["UpdateService"],
        1,
        "api only"
    );
    let live_web = describe(&aws, "prod", "web").await;
    assert!(live_web.task_definition_arn.ends_with("web:2"));
}

#[tokio::test]
async fn a_scaling_is_followed_until_the_new_tasks_run() {
    let (account, network) = prepared_account(&[("app", "1.0")]);
    let vars = vars(&account, &network);
    let aws = adapter(&account).await;
    let services = [Svc::new("worker", "app:1.0")];
    plan_and_apply(
        &aws,
        &aws,
        &estate(&services, &vars),
        "one",
        &Log::default(),
    )
    .await;

    // Scaling out takes a whole second here: the apply must wait for the tasks.
    berth_moto(&account, "rollout-seconds", json!(1.0));
    let mut next = services.to_vec();
    next[0].desired = 4;
    let log = Log::default();
    let started = Instant::now();
    let reports = plan_and_apply(&aws, &aws, &estate(&next, &vars), "two", &log).await;
    let took = started.elapsed();
    let worker = describe(&aws, "prod", "worker").await;
    println!("scaling 2 -> 4 followed for {took:?}: {:#?}", log.lines());
    assert_eq!(
        report_of(&reports, "prod", "worker").outcome,
        ServiceOutcome::Synced
    );
    assert_eq!(
        (worker.running_count, worker.pending_count),
        (4, 0),
        "Synced while tasks were still starting (after {took:?})"
    );
}

#[tokio::test]
async fn settings_and_tags_dropped_from_a_manifest_are_reset_and_the_next_plan_is_clean() {
    let (account, network) = prepared_account(&[("app", "1.0")]);
    let vars = vars(&account, &network);
    let aws = adapter(&account).await;
    let base = Svc::new("web", "app:1.0").yaml();
    let full = base.replace(
        "  tags: [{key: team, value: payments}]\n",
        "  tags: [{key: team, value: payments}, {key: tier, value: gold}]\n  \
         healthCheckGracePeriodSeconds: 60\n  propagateTags: SERVICE\n  enableExecuteCommand: true\n",
    );
    let file = |text: String| load_valid(&[SourceFile::new("prod/web.yaml", text)], &vars);
    let reports = plan_and_apply(&aws, &aws, &file(full.clone()), "one", &Log::default()).await;
    assert_eq!(reports[0].outcome, ServiceOutcome::Synced, "{reports:#?}");
    let created = describe(&aws, "prod", "web").await;
    assert_eq!(created.spec.health_check_grace_period_seconds, Some(60));
    assert_eq!(created.spec.enable_execute_command, Some(true));

    // Everything optional dropped again, the circuit breaker too, and one tag value changed.
    let trimmed = base
        .replace(
            "  tags: [{key: team, value: payments}]\n",
            "  tags: [{key: team, value: platform}]\n",
        )
        .replace(
            "    deploymentCircuitBreaker: {enable: true, rollback: true}\n",
            "",
        );
    let trimmed = file(trimmed);
    let before = mutations(&aws);
    let reports = plan_and_apply(&aws, &aws, &trimmed, "two", &Log::default()).await;
    let report = &reports[0];
    println!("{report:#?}");
    assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
    assert_eq!(
        report.actions,
        [
            AppliedAction::UpdatedService {
                fields: [
                    "deploymentConfiguration",
                    "enableExecuteCommand",
                    "healthCheckGracePeriodSeconds",
                    "propagateTags"
                ]
                .map(String::from)
                .to_vec()
            },
            AppliedAction::TaggedService,
            AppliedAction::UntaggedService {
                keys: vec!["tier".into()]
            },
        ]
    );
    let after = mutations(&aws);
    for (operation, n) in [
        ("UpdateService", 1),
        ("TagResource", 1),
        ("UntagResource", 1),
    ] {
        assert_eq!(after[operation] - before[operation], n, "{operation}");
    }

    let live = describe(&aws, "prod", "web").await;
    assert_eq!(live.spec.health_check_grace_period_seconds.unwrap_or(0), 0);
    assert_eq!(live.spec.enable_execute_command, Some(false));
    assert_eq!(
        live.spec
            .propagate_tags
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("NONE")
    );
    let breaker = live
        .spec
        .deployment_configuration
        .as_ref()
        .and_then(|c| c.deployment_circuit_breaker.as_ref())
        .expect("ECS reports the circuit breaker");
    assert!(!breaker.enable && !breaker.rollback, "{breaker:?}");
    assert_eq!(live.tags.get("tier"), None, "{:?}", live.tags);
    assert_eq!(live.tags.get("team").map(String::as_str), Some("platform"));
    assert_eq!(
        live.tags.get("berth:revision").map(String::as_str),
        Some("two")
    );

    let (plan, _) = plan_only(&aws, &aws, &trimmed).await;
    assert_eq!(plan.services[0].action, Action::NoChange, "{plan:#?}");
    let before = mutations(&aws);
    plan_and_apply(&aws, &aws, &trimmed, "two", &Log::default()).await;
    assert_eq!(mutations(&aws), before, "converged: nothing more to do");
}

#[tokio::test]
async fn a_suspended_service_is_reported_and_never_changed() {
    let (account, network) = prepared_account(&[("app", "1.0"), ("app", "1.1")]);
    let vars = vars(&account, &network);
    let aws = adapter(&account).await;
    let services = [Svc::new("web", "app:1.0"), Svc::new("api", "app:1.0")];
    plan_and_apply(
        &aws,
        &aws,
        &estate(&services, &vars),
        "one",
        &Log::default(),
    )
    .await;

    let mut next = services.to_vec();
    for service in &mut next {
        service.image = "app:1.1".into();
        service.desired = 3;
    }
    next[0].suspend = true;
    let recorder = Wrapped::new(&aws);
    let reports = plan_and_apply(
        &recorder,
        &recorder,
        &estate(&next, &vars),
        "two",
        &Log::default(),
    )
    .await;
    let web = report_of(&reports, "prod", "web");
    let ServiceOutcome::Skipped { reason } = &web.outcome else {
        panic!("{web:#?}")
    };
    assert!(reason.contains("suspended"), "{reason}");
    assert!(web.actions.is_empty());
    let touched: Vec<Call> = recorder
        .calls()
        .into_iter()
        .filter(|c| c.subject == "web" && c.operation != "DescribeServices")
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
    assert_eq!(revisions(&aws, "web").await.len(), 1);
    let live = describe(&aws, "prod", "web").await;
    assert_eq!(live.spec.desired_count, Some(2));
    assert_eq!(
        report_of(&reports, "prod", "api").outcome,
        ServiceOutcome::Synced
    );
    assert_eq!(revisions(&aws, "api").await.len(), 2);
}
