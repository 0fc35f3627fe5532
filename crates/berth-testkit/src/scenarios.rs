//! One apply/plan scenario suite, generic over the engine's ports: every scenario is an async fn
//! over a [`ScenarioHarness`], run on the in-process fake (berth-engine's `tests/apply.rs`) and on
//! the emulator (berth-aws's `tests/aws/apply.rs`), so both backends answer to the same
//! assertions.
//!
//! A harness supplies only what differs between the backends: the ports, the manifest variables
//! of its account, pushing images and making one fail to start, counting the mutating calls the
//! backend accepted, listing a family's revisions, and standing in for a new berth process. What
//! the engine does is recorded the same way on both: [`Recorded`] wraps the ECS port (the order
//! of calls, and a process killed right after RegisterTaskDefinition), [`Log`] observes the
//! apply. Scenarios follow rollouts through tokio's clock only, so the fake runs them under a
//! paused clock and the emulator in real time.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use berth_core::live::{Deployment, LiveService, LiveTaskDefinition, ServiceEvent, ServiceLookup};
use berth_core::manifest::{
    LoadOptions, LoadOutcome, ServiceId, ServiceManifest, SourceFile, Vars, load,
};
use berth_core::model::ecs::{ServiceSpec, TaskDefinitionSpec};
use berth_core::plan::{Action, LiveState, Ownership, Plan, plan};
use berth_core::render::Provenance;
use berth_engine::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use berth_engine::ports::{EcsRead, EcsWrite, ImageRegistry, ServiceUpdate};
use berth_engine::read_live_to_apply;
use berth_engine::rollout::{RolloutObserver, RolloutTiming};
use tokio::sync::{Notify, watch};

/// The repository every scenario's manifests come from (in `berth:source` tags).
pub const REPOSITORY: &str = "https://github.com/acme/deploy.git";

/// The operations that change ECS, as both backends name them.
pub const MUTATING: &[&str] = &[
    "RegisterTaskDefinition",
    "CreateService",
    "UpdateService",
    "TagResource",
    "UntagResource",
    "DeleteService",
];

/// The ECR images (`repository`, `tag`) the example manifests in `manifests/` name.
pub const EXAMPLE_IMAGES: &[(&str, &str)] = &[
    ("web", "1.4.2"),
    ("web", "1.5.0"),
    ("api", "2.0.1"),
    ("api", "2.1.0"),
    ("worker", "3.1.0"),
    ("billing", "0.9.0"),
];

/// Successful calls per mutating operation (every one of [`MUTATING`], zero included).
pub type Mutations = BTreeMap<&'static str, u64>;

/// What differs between the backends the scenarios run on.
pub trait ScenarioHarness {
    /// The ECS port.
    type Ecs: EcsWrite;
    /// The ECR port.
    type Registry: ImageRegistry;

    /// ECS, as the current process reaches it.
    fn ecs(&self) -> &Self::Ecs;
    /// ECR, as the current process reaches it.
    fn registry(&self) -> &Self::Registry;
    /// The variables manifests need for this account: `ACCOUNT`, `REGION`, `SUBNET_A`,
    /// `SUBNET_B`, `SECURITY_GROUP`.
    fn vars(&self) -> Vars;
    /// Pushes `repository:tag` to the account's ECR; returns its digest (`sha256:…`).
    fn push_image(&self, repository: &str, tag: &str) -> String;
    /// Makes tasks of a pushed `repository:tag` fail to start, so deployments of it trip the
    /// circuit breaker.
    fn fail_image(&self, repository: &str, tag: &str);
    /// The mutating calls the backend accepted since the harness was made, over every process.
    fn mutations(&self) -> Mutations;
    /// ARNs of the family's revisions, oldest first.
    fn revisions(&self, family: &str) -> Vec<String>;
    /// Stands in for a new berth process: ports with nothing cached and nothing remembered.
    fn restart(&mut self) -> impl Future<Output = ()>;
}

/// [`Mutations`] from a count per operation.
pub fn count_mutations(count: impl Fn(&str) -> u64) -> Mutations {
    MUTATING.iter().map(|op| (*op, count(op))).collect()
}

/// The operations called between `before` and `after`, with how often (only those called).
pub fn mutations_since(before: &Mutations, after: &Mutations) -> Mutations {
    after
        .iter()
        .map(|(op, n)| (*op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

// --- manifests ---------------------------------------------------------------------------------

/// One service of a scenario's estate, in cluster `prod`, running one ECR image on Fargate
/// behind a circuit breaker that rolls back.
#[derive(Debug, Clone)]
pub struct ScenarioService {
    /// Service name and task definition family.
    pub name: String,
    /// `repository:tag` in the account's ECR.
    pub image: String,
    /// `desiredCount`.
    pub desired: u32,
    /// `metadata.dependsOn`, one service.
    pub depends_on: Option<String>,
    /// `metadata.suspend`.
    pub suspend: bool,
}

impl ScenarioService {
    /// Two tasks of `image` (`repository:tag`), no dependency, not suspended.
    pub fn new(name: &str, image: &str) -> Self {
        ScenarioService {
            name: name.to_string(),
            image: image.to_string(),
            desired: 2,
            depends_on: None,
            suspend: false,
        }
    }

    /// The same service, applied only after `dependency`'s rollout completes.
    pub fn depending_on(mut self, dependency: &str) -> Self {
        self.depends_on = Some(dependency.to_string());
        self
    }

    /// The manifest (with `${…}` variables, see [`ScenarioHarness::vars`]).
    pub fn yaml(&self) -> String {
        let mut metadata = self
            .depends_on
            .as_ref()
            .map(|d| format!("  dependsOn: [{d}]\n"))
            .unwrap_or_default();
        if self.suspend {
            metadata.push_str("  suspend: true\n");
        }
        format!(
            "\
apiVersion: berth/v1
kind: Service
metadata:
  name: {name}
  cluster: prod
{metadata}spec:
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

/// The services `names`, each running `image_of(name)`.
pub fn services(names: &[&str], image_of: impl Fn(&str) -> String) -> Vec<ScenarioService> {
    names
        .iter()
        .map(|name| ScenarioService::new(name, &image_of(name)))
        .collect()
}

/// The services loaded from `prod/<name>.yaml` each (panics when one is invalid).
pub fn estate(services: &[ScenarioService], vars: &Vars) -> LoadOutcome {
    let files: Vec<SourceFile> = services
        .iter()
        .map(|s| SourceFile::new(format!("prod/{}.yaml", s.name), s.yaml()))
        .collect();
    load_valid(&files, vars)
}

/// `files` loaded with `vars` (panics when one is invalid: a broken fixture).
pub fn load_valid(files: &[SourceFile], vars: &Vars) -> LoadOutcome {
    let options = LoadOptions {
        vars: vars.clone(),
        ..LoadOptions::default()
    };
    let outcome = load(files, &options);
    assert!(outcome.is_valid(), "{:#?}", outcome.invalid);
    outcome
}

/// The example estate in `manifests/` (7 services in `prod` and `staging`).
pub fn example_estate(vars: &Vars) -> LoadOutcome {
    let root = crate::workspace_root().join("manifests");
    let mut files = Vec::new();
    read_manifests(&root, &root, &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    load_valid(&files, vars)
}

/// Every `*.yaml` under `dir`, paths relative to `root`.
fn read_manifests(root: &Path, dir: &Path, files: &mut Vec<SourceFile>) {
    for entry in std::fs::read_dir(dir).expect("the manifests directory is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            read_manifests(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let relative = path.strip_prefix(root).expect("below the root");
            files.push(SourceFile::new(
                relative.to_string_lossy().replace('\\', "/"),
                std::fs::read_to_string(&path).expect("a readable manifest"),
            ));
        }
    }
}

// --- planning and applying ---------------------------------------------------------------------

/// Apply options of the scenarios: commit `revision` of [`REPOSITORY`], rollouts followed every
/// 100 ms for up to 30 s.
pub fn options(revision: &str) -> ApplyOptions {
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
        ..ApplyOptions::default()
    }
}

/// Reads the live state of `outcome`'s services as `berth apply` does and plans them.
pub async fn plan_only<E: EcsRead, R: ImageRegistry>(
    ecs: &E,
    registry: &R,
    outcome: &LoadOutcome,
) -> (Plan, LiveState) {
    let live = read_live_to_apply(ecs, registry, &outcome.services, &outcome.invalid)
        .await
        .expect("reading the live state");
    let plan = plan(
        &outcome.services,
        &outcome.invalid,
        &live,
        &Ownership::new(REPOSITORY),
    );
    (plan, live)
}

/// Reads, plans and applies `outcome`.
pub async fn plan_and_apply<E: EcsWrite, R: ImageRegistry>(
    ecs: &E,
    registry: &R,
    outcome: &LoadOutcome,
    options: &ApplyOptions,
    observer: &dyn ApplyObserver,
) -> Vec<ServiceReport> {
    let (plan, live) = plan_only(ecs, registry, outcome).await;
    apply(ecs, &plan, &outcome.services, &live, options, observer).await
}

/// Applies commit `revision` (with [`options`]) through the harness's ports.
pub async fn apply_commit<H: ScenarioHarness>(
    harness: &H,
    outcome: &LoadOutcome,
    revision: &str,
    observer: &dyn ApplyObserver,
) -> Vec<ServiceReport> {
    let options = options(revision);
    plan_and_apply(
        harness.ecs(),
        harness.registry(),
        outcome,
        &options,
        observer,
    )
    .await
}

/// The report of `cluster/name` (panics when there is none).
pub fn report_of<'a>(reports: &'a [ServiceReport], cluster: &str, name: &str) -> &'a ServiceReport {
    reports
        .iter()
        .find(|r| r.id.as_ref() == Some(&ServiceId::new(cluster, name)))
        .unwrap_or_else(|| panic!("no report for {cluster}/{name}: {reports:#?}"))
}

/// The live service `cluster/name` (panics when ECS does not know it).
pub async fn describe<E: EcsRead>(ecs: &E, cluster: &str, name: &str) -> LiveService {
    let lookups = ecs
        .describe_services(cluster, &[name.to_string()])
        .await
        .expect("DescribeServices");
    match lookups.into_iter().next() {
        Some(ServiceLookup::Found(service)) => *service,
        other => panic!("{cluster}/{name} is not there: {other:?}"),
    }
}

// --- recording -----------------------------------------------------------------------------------

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another test thread poisons the lock; the data is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What an apply reported, line by line: `event <id> <event id> <message>`,
/// `progress <id> <state> <running>/<desired>`, `action <id> <action>`, `finished <id> <outcome>`.
#[derive(Debug, Default)]
pub struct Log {
    lines: Mutex<Vec<String>>,
}

impl Log {
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        locked(&self.lines).clone()
    }

    /// The event lines of service `id` (`cluster/name`).
    pub fn events_of(&self, id: &str) -> Vec<String> {
        let prefix = format!("event {id} ");
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with(&prefix))
            .collect()
    }

    fn push(&self, line: String) {
        locked(&self.lines).push(line);
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
        let id = report.id.as_ref().map(ToString::to_string);
        self.push(format!(
            "finished {} {:?}",
            id.as_deref().unwrap_or("-"),
            report.outcome
        ));
    }
}

/// One call through [`Recorded`].
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The API operation.
    pub operation: &'static str,
    /// The service name, or the task definition family (the last part of a tagged ARN).
    pub subject: String,
    /// For DescribeServices: the PRIMARY's `rolloutState` and task definition ARN.
    pub detail: String,
}

/// The ECS port over another, recording in order every mutating call that succeeded
/// (UpdateService when it is made: "made after" is what ordering checks need) and what each
/// DescribeServices answered per service. Made with [`Recorded::dying_after_register`], a
/// successful RegisterTaskDefinition never returns: dropping the apply then is what SIGKILL does
/// to the work in flight.
pub struct Recorded<'a, E> {
    ecs: &'a E,
    calls: Mutex<Vec<Call>>,
    die_after_register: bool,
    registered: Notify,
    /// Turned true right after the first successful RegisterTaskDefinition: SIGTERM arriving
    /// while a service is being changed.
    stop_after_register: Option<watch::Sender<bool>>,
}

impl<'a, E: EcsWrite> Recorded<'a, E> {
    /// Records calls to `ecs`.
    pub fn new(ecs: &'a E) -> Self {
        Recorded {
            ecs,
            calls: Mutex::new(Vec::new()),
            die_after_register: false,
            registered: Notify::new(),
            stop_after_register: None,
        }
    }

    /// Records calls to `ecs`, and sends `true` on `stop` right after the first successful
    /// registration.
    pub fn stopping_after_register(ecs: &'a E, stop: watch::Sender<bool>) -> Self {
        Recorded {
            stop_after_register: Some(stop),
            ..Recorded::new(ecs)
        }
    }

    /// Records calls to `ecs`, and hangs forever after the first successful registration.
    pub fn dying_after_register(ecs: &'a E) -> Self {
        Recorded {
            die_after_register: true,
            ..Recorded::new(ecs)
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        locked(&self.calls).clone()
    }

    /// The mutating calls so far, as (operation, subject).
    pub fn mutating(&self) -> Vec<(&'static str, String)> {
        self.calls()
            .into_iter()
            .filter(|c| c.operation != "DescribeServices")
            .map(|c| (c.operation, c.subject))
            .collect()
    }

    /// The mutating calls so far about service (or family) `name`.
    pub fn mutating_on(&self, name: &str) -> Vec<(&'static str, String)> {
        self.mutating()
            .into_iter()
            .filter(|(_, subject)| subject == name)
            .collect()
    }

    fn record(&self, operation: &'static str, subject: &str, detail: String) {
        locked(&self.calls).push(Call {
            operation,
            subject: subject.to_string(),
            detail,
        });
    }
}

/// Whether `call` is a DescribeServices that saw `name`'s rollout to `task_definition` COMPLETED.
pub fn saw_completed(call: &Call, name: &str, task_definition: &str) -> bool {
    call.operation == "DescribeServices"
        && call.subject == name
        && call.detail == format!("COMPLETED {task_definition}")
}

impl<E: EcsWrite> EcsRead for Recorded<'_, E> {
    type Error = E::Error;

    async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, Self::Error> {
        let lookups = self.ecs.describe_services(cluster, names).await?;
        for lookup in &lookups {
            if let ServiceLookup::Found(service) = lookup {
                let primary = service.deployments.iter().find(|d| d.status == "PRIMARY");
                let detail = primary.map_or_else(String::new, |p| {
                    let state = p.rollout_state.as_deref().unwrap_or("-");
                    format!("{state} {}", p.task_definition_arn)
                });
                self.record("DescribeServices", &service.id.name, detail);
            }
        }
        Ok(lookups)
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<Arc<LiveTaskDefinition>, Self::Error> {
        self.ecs.describe_task_definition(arn).await
    }

    async fn latest_active_task_definition_arn(
        &self,
        family: &str,
    ) -> Result<Option<String>, Self::Error> {
        self.ecs.latest_active_task_definition_arn(family).await
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, Self::Error> {
        self.ecs.list_services(cluster).await
    }

    async fn list_active_task_definitions(&self, family: &str) -> Result<Vec<String>, Self::Error> {
        self.ecs.list_active_task_definitions(family).await
    }
}

impl<E: EcsWrite> EcsWrite for Recorded<'_, E> {
    async fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> Result<Arc<LiveTaskDefinition>, Self::Error> {
        let registered = self.ecs.register_task_definition(spec).await?;
        let (family, arn) = (&registered.family, registered.arn.clone());
        self.record("RegisterTaskDefinition", family, arn);
        if let Some(stop) = &self.stop_after_register {
            stop.send_replace(true);
        }
        if self.die_after_register {
            self.registered.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(registered)
    }

    async fn create_service(
        &self,
        id: &ServiceId,
        spec: &ServiceSpec,
        task_definition_arn: &str,
    ) -> Result<LiveService, Self::Error> {
        let created = self
            .ecs
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
        let task_definition = update.task_definition_arn.clone().unwrap_or_default();
        self.record("UpdateService", &id.name, task_definition);
        self.ecs.update_service(id, update).await
    }

    async fn delete_service(&self, id: &ServiceId) -> Result<(), Self::Error> {
        self.ecs.delete_service(id).await?;
        self.record("DeleteService", &id.name, String::new());
        Ok(())
    }

    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Self::Error> {
        self.ecs.tag_resource(arn, tags).await?;
        self.record("TagResource", arn_subject(arn), String::new());
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), Self::Error> {
        self.ecs.untag_resource(arn, keys).await?;
        self.record("UntagResource", arn_subject(arn), keys.join(","));
        Ok(())
    }

    async fn deregister_task_definition(&self, arn: &str) -> Result<(), Self::Error> {
        self.ecs.deregister_task_definition(arn).await?;
        self.record("DeregisterTaskDefinition", arn_subject(arn), String::new());
        Ok(())
    }
}

/// The service name (or `family:revision`) at the end of an ARN.
fn arn_subject(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Plans and applies commit `revision` through a process that is killed right after its first
/// RegisterTaskDefinition succeeds (panics if the apply ends without registering).
pub async fn apply_killed_after_register<H: ScenarioHarness>(
    harness: &H,
    outcome: &LoadOutcome,
    revision: &str,
) {
    let dying = Recorded::dying_after_register(harness.ecs());
    let options = options(revision);
    let log = Log::default();
    let applying = plan_and_apply(&dying, harness.registry(), outcome, &options, &log);
    tokio::select! {
        biased;
        () = dying.registered.notified() => {}
        reports = applying => panic!("the apply should have died: {reports:#?}"),
    }
}

// --- the scenarios -------------------------------------------------------------------------------

/// Pushes `images`; returns their digests by full reference (`<registry>/<repository>:<tag>`).
fn push_all<H: ScenarioHarness>(harness: &H, images: &[(&str, &str)]) -> BTreeMap<String, String> {
    let registry = ecr_registry(&harness.vars());
    images
        .iter()
        .map(|(repository, tag)| {
            let digest = harness.push_image(repository, tag);
            (format!("{registry}/{repository}:{tag}"), digest)
        })
        .collect()
}

/// `<account>.dkr.ecr.<region>.amazonaws.com` of the harness's account.
fn ecr_registry(vars: &Vars) -> String {
    let var = |name: &str| vars.get(name).cloned().expect("harness vars name it");
    format!("{}.dkr.ecr.{}.amazonaws.com", var("ACCOUNT"), var("REGION"))
}

/// The example estate is created (7 services, pinned to digests, owned), then a plan shows no
/// change and applying the same commit, or another, makes no mutating call.
pub async fn a_fresh_estate_is_created_then_a_second_apply_changes_nothing<H: ScenarioHarness>(
    harness: &mut H,
) {
    let digests = push_all(harness, EXAMPLE_IMAGES);
    let vars = harness.vars();
    let outcome = example_estate(&vars);
    assert_eq!(outcome.services.len(), 7);

    let reports = apply_commit(harness, &outcome, "c0ffee1", &Log::default()).await;
    assert_eq!(reports.len(), 7, "{reports:#?}");
    for report in &reports {
        assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
        assert!(
            report.actions.contains(&AppliedAction::CreatedService),
            "{report:#?}"
        );
    }
    let created = harness.mutations();
    assert_eq!(created["RegisterTaskDefinition"], 7, "{created:?}");
    assert_eq!(created["CreateService"], 7, "{created:?}");
    assert_eq!(created["UpdateService"], 0, "{created:?}");
    for manifest in &outcome.services {
        assert_created_pinned_and_owned(harness, manifest, &digests, "c0ffee1").await;
    }

    // A new process plans right after: nothing to do.
    harness.restart().await;
    let (plan, _) = plan_only(harness.ecs(), harness.registry(), &outcome).await;
    for service in &plan.services {
        assert_eq!(service.action, Action::NoChange, "{:?}", service.id);
    }
    assert!(!plan.has_changes());

    let reports = apply_commit(harness, &outcome, "c0ffee1", &Log::default()).await;
    assert!(
        reports
            .iter()
            .all(|r| r.outcome == ServiceOutcome::Synced && r.actions.is_empty()),
        "{reports:#?}"
    );
    assert_eq!(
        harness.mutations(),
        created,
        "the second apply changed something"
    );
    // Nor with another commit: the revision tag alone is no reason to touch a service.
    let reports = apply_commit(harness, &outcome, "d00d2", &Log::default()).await;
    assert!(reports.iter().all(|r| r.actions.is_empty()), "{reports:#?}");
    assert_eq!(
        harness.mutations(),
        created,
        "another commit changed something"
    );
}

/// The service of `manifest` runs a task definition of its family, pinned to the pushed
/// digests, with berth's tags on both; its rollout completed.
async fn assert_created_pinned_and_owned<H: ScenarioHarness>(
    harness: &H,
    manifest: &ServiceManifest,
    digests: &BTreeMap<String, String>,
    revision: &str,
) {
    let id = &manifest.id;
    let service = describe(harness.ecs(), &id.cluster, &id.name).await;
    let source = format!("{REPOSITORY}#{}", manifest.origin.file);
    let provenance = [
        ("berth:managed-by", "berth"),
        ("berth:source", source.as_str()),
        ("berth:revision", revision),
    ];
    for (key, value) in provenance {
        let tag = service.tags.get(key).map(String::as_str);
        assert_eq!(
            tag,
            Some(value),
            "{id}: service tag {key}: {:?}",
            service.tags
        );
    }
    let cost_center = service.tags.get("cost-center").map(String::as_str);
    assert_eq!(
        cost_center,
        Some("platform"),
        "{id}: the manifest's own tags too"
    );

    let task_definition = harness
        .ecs()
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
    for (key, value) in provenance {
        let tag = td_tags.get(key).map(String::as_str);
        assert_eq!(
            tag,
            Some(value),
            "{id}: task definition tag {key}: {td_tags:?}"
        );
    }
    assert_eq!(
        images(&task_definition.spec),
        pinned(manifest, digests),
        "{id}"
    );
    let primary = &service.deployments[0];
    assert_eq!(primary.status, "PRIMARY");
    assert_eq!(primary.rollout_state.as_deref(), Some("COMPLETED"));
}

/// (container, image) of a task definition.
fn images(spec: &TaskDefinitionSpec) -> Vec<(String, String)> {
    let containers = spec.container_definitions.iter().flatten();
    containers
        .map(|c| {
            let name = c.name.clone().unwrap_or_default();
            (name, c.image.clone().unwrap_or_default())
        })
        .collect()
}

/// (container, image) of `manifest`'s task definition as berth must register it: every image
/// pushed in the scenario (`digests`) pinned to its digest, any other used as written.
fn pinned(manifest: &ServiceManifest, digests: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let written = manifest.spec.task_definition.as_ref().map(images);
    written
        .unwrap_or_default()
        .into_iter()
        .map(
            |(name, image)| match (digests.get(&image), image.rsplit_once(':')) {
                (Some(digest), Some((repository, _))) => (name, format!("{repository}@{digest}")),
                _ => (name, image),
            },
        )
        .collect()
}

/// Pushes `app:1.0` and `app:1.1`, creates `names` on `app:1.0` (commit "one"), and returns them
/// with web bumped to `app:1.1`.
async fn created_then_web_bumped<H: ScenarioHarness>(harness: &H, names: &[&str]) -> LoadOutcome {
    push_app(harness, &["1.0", "1.1"]);
    let vars = harness.vars();
    let initial = estate(&services(names, |_| "app:1.0".into()), &vars);
    let reports = apply_commit(harness, &initial, "one", &Log::default()).await;
    assert!(
        reports.iter().all(|r| r.outcome == ServiceOutcome::Synced),
        "{reports:#?}"
    );
    let image_of = |name: &str| if name == "web" { "app:1.1" } else { "app:1.0" }.to_string();
    estate(&services(names, image_of), &vars)
}

/// Pushes `app:<tag>` for every tag.
fn push_app<H: ScenarioHarness>(harness: &H, tags: &[&str]) {
    for tag in tags {
        harness.push_image("app", tag);
    }
}

/// Five services; one image bump: one RegisterTaskDefinition, one UpdateService, one
/// TagResource, all for that service, and the other four untouched.
pub async fn an_image_bump_in_one_of_five_services_registers_once_and_updates_once<
    H: ScenarioHarness,
>(
    harness: &mut H,
) {
    let names = ["api", "billing", "reports", "web", "worker"];
    let bumped = created_then_web_bumped(harness, &names).await;
    let before = harness.mutations();
    let recorded = Recorded::new(harness.ecs());
    let options = options("two");
    let log = Log::default();
    let reports = plan_and_apply(&recorded, harness.registry(), &bumped, &options, &log).await;
    let delta = mutations_since(&before, &harness.mutations());
    let expected = [
        ("RegisterTaskDefinition", 1),
        ("TagResource", 1),
        ("UpdateService", 1),
    ];
    assert_eq!(delta, Mutations::from(expected), "{reports:#?}");
    let web = |operation| (operation, "web".to_string());
    let in_order = [
        web("RegisterTaskDefinition"),
        web("UpdateService"),
        web("TagResource"),
    ];
    assert_eq!(recorded.mutating(), in_order);

    assert_eq!(
        report_of(&reports, "prod", "web").outcome,
        ServiceOutcome::Synced
    );
    for other in ["api", "billing", "reports", "worker"] {
        let report = report_of(&reports, "prod", other);
        assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
        assert!(report.actions.is_empty(), "{other} untouched: {report:#?}");
    }
    let live = describe(harness.ecs(), "prod", "web").await;
    assert!(
        live.task_definition_arn.ends_with(":task-definition/web:2"),
        "{live:#?}"
    );
    let revision = live.tags.get("berth:revision").map(String::as_str);
    assert_eq!(revision, Some("two"));
    assert_eq!(harness.revisions("web").len(), 2);
    assert_eq!(harness.revisions("api").len(), 1);
}

/// A process killed right after RegisterTaskDefinition: the next process reuses that revision
/// (no second one) and updates the service once.
pub async fn a_process_killed_right_after_register_leaves_no_duplicate_revision<
    H: ScenarioHarness,
>(
    harness: &mut H,
) {
    let bumped = created_then_web_bumped(harness, &["web", "api"]).await;

    apply_killed_after_register(harness, &bumped, "two").await;
    let after_crash = harness.mutations();
    assert_eq!(
        after_crash["RegisterTaskDefinition"], 3,
        "2 created, then 1 before dying"
    );
    assert_eq!(after_crash["UpdateService"], 0);
    let revisions = harness.revisions("web");
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    let web = describe(harness.ecs(), "prod", "web").await;
    assert_eq!(web.task_definition_arn, revisions[0], "not updated yet");

    harness.restart().await;
    let reports = apply_commit(harness, &bumped, "two", &Log::default()).await;
    let report = report_of(&reports, "prod", "web");
    assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
    let reused = AppliedAction::ReusedTaskDefinition {
        arn: revisions[1].clone(),
    };
    assert_eq!(report.actions.first(), Some(&reused), "{report:#?}");
    let delta = mutations_since(&after_crash, &harness.mutations());
    assert_eq!(
        delta.get("RegisterTaskDefinition"),
        None,
        "no second revision: {delta:?}"
    );
    assert_eq!(delta.get("UpdateService"), Some(&1), "{delta:?}");
    assert_eq!(harness.revisions("web"), revisions);
    let web = describe(harness.ecs(), "prod", "web").await;
    assert_eq!(web.task_definition_arn, revisions[1]);
    assert_eq!(web.deployments.len(), 1, "{:#?}", web.deployments);
    assert_eq!(web.deployments[0].task_definition_arn, revisions[1]);
    assert_eq!(
        web.deployments[0].rollout_state.as_deref(),
        Some("COMPLETED")
    );
    assert!(report_of(&reports, "prod", "api").actions.is_empty());

    // And it is settled: a plan now is clean.
    let (plan, _) = plan_only(harness.ecs(), harness.registry(), &bumped).await;
    assert!(!plan.has_changes(), "{plan:#?}");
}

/// Of three services, one gets an image whose tasks fail: ECS rolls it back, berth reports it
/// failed with ECS's events (each once), and the other two converge in the same apply.
pub async fn a_failing_image_is_rolled_back_and_reported_with_ecs_events_while_others_converge<
    H: ScenarioHarness,
>(
    harness: &mut H,
) {
    push_app(harness, &["1.0", "1.1", "broken"]);
    harness.fail_image("app", "broken");
    let vars = harness.vars();
    let initial = services(&["web", "api", "worker"], |_| "app:1.0".into());
    apply_commit(harness, &estate(&initial, &vars), "one", &Log::default()).await;
    let web_before = describe(harness.ecs(), "prod", "web")
        .await
        .task_definition_arn;

    let mut next = initial.clone();
    next[0].image = "app:broken".into();
    next[1].image = "app:1.1".into();
    next[2].desired = 3;
    let log = Log::default();
    let reports = apply_commit(harness, &estate(&next, &vars), "two", &log).await;

    assert_rolled_back_and_reported(report_of(&reports, "prod", "web"), &log);
    let live_web = describe(harness.ecs(), "prod", "web").await;
    assert_eq!(
        live_web.task_definition_arn, web_before,
        "ECS put the old revision back"
    );

    for (name, field) in [("api", "taskDefinition"), ("worker", "desiredCount")] {
        let report = report_of(&reports, "prod", name);
        assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
        let updated = AppliedAction::UpdatedService {
            fields: vec![field.to_string()],
        };
        assert!(report.actions.contains(&updated), "{report:#?}");
    }
    let worker = describe(harness.ecs(), "prod", "worker").await;
    assert_eq!(
        (worker.running_count, worker.spec.desired_count),
        (3, Some(3))
    );
}

/// `web` was registered and updated, then failed as rolled back, with ECS's events in its report
/// and in `log` (each event once).
fn assert_rolled_back_and_reported(web: &ServiceReport, log: &Log) {
    let ServiceOutcome::Failed { reason, events } = &web.outcome else {
        panic!("{web:#?}")
    };
    let rolled_back = reason.contains("rolled back") || reason.contains("circuit breaker");
    assert!(rolled_back, "{reason}");
    for said in ["deployment failed", "rolling back"] {
        assert!(
            events.iter().any(|e| e.message.contains(said)),
            "{said}: {events:#?}"
        );
    }
    let registered_then_updated = matches!(
        web.actions[..],
        [
            AppliedAction::RegisteredTaskDefinition { .. },
            AppliedAction::UpdatedService { .. },
            ..
        ]
    );
    assert!(registered_then_updated, "{web:#?}");

    // The events were reported as they appeared, once each.
    let web_events = log.events_of("prod/web");
    let mut unique = web_events.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), web_events.len(), "{web_events:#?}");
    for said in ["deployment failed", "rolling back"] {
        assert!(
            web_events.iter().any(|l| l.contains(said)),
            "{said}: {web_events:#?}"
        );
    }
}

/// A tag missing from ECR, and a repository missing altogether: those services fail before
/// anything is registered for them, and the third is created.
pub async fn a_missing_image_fails_before_registering_and_others_apply<H: ScenarioHarness>(
    harness: &mut H,
) {
    push_app(harness, &["1.0"]);
    let vars = harness.vars();
    let wanted = [
        ("web", "app:9.9.9"),
        ("api", "app:1.0"),
        ("worker", "ghost:1"),
    ];
    let image_of: BTreeMap<&str, &str> = wanted.into_iter().collect();
    let services = services(&["web", "api", "worker"], |name| image_of[name].to_string());
    let recorded = Recorded::new(harness.ecs());
    let options = options("one");
    let outcome = estate(&services, &vars);
    let log = Log::default();
    let reports = plan_and_apply(&recorded, harness.registry(), &outcome, &options, &log).await;

    for (name, missing) in [("web", "app:9.9.9"), ("worker", "ghost:1")] {
        let report = report_of(&reports, "prod", name);
        let ServiceOutcome::Failed { reason, .. } = &report.outcome else {
            panic!("{report:#?}")
        };
        let says_why = reason.contains(missing) && reason.contains("not found");
        assert!(says_why, "{reason}");
        assert!(report.actions.is_empty(), "{report:#?}");
        assert!(
            harness.revisions(name).is_empty(),
            "nothing registered for {name}"
        );
        assert_eq!(recorded.mutating_on(name), [], "no call for {name}");
    }
    let api = report_of(&reports, "prod", "api");
    assert_eq!(api.outcome, ServiceOutcome::Synced, "{api:#?}");
    let created = [("CreateService", 1), ("RegisterTaskDefinition", 1)];
    assert_eq!(
        mutations_since(&Mutations::new(), &harness.mutations()),
        Mutations::from(created)
    );
    assert_eq!(harness.revisions("api").len(), 1);
}

/// web depends on api: created and updated only after api's rollout is seen COMPLETED, and
/// skipped (nothing called for it) when api's rollout fails.
pub async fn a_dependent_is_updated_after_its_dependency_completes_and_skipped_when_it_fails<
    H: ScenarioHarness,
>(
    harness: &mut H,
) {
    push_app(harness, &["1.0", "1.1", "1.2", "broken"]);
    harness.fail_image("app", "broken");
    let vars = harness.vars();
    let pair = |api: &str, web: &str| {
        let web = ScenarioService::new("web", web).depending_on("api");
        estate(&[web, ScenarioService::new("api", api)], &vars)
    };

    let created = apply_recorded(harness, &pair("app:1.0", "app:1.0"), "one").await;
    assert_waited_for_api(harness, created, false).await;

    // Both bumped in one commit: web's UpdateService only after api's rollout completed.
    let bumped = apply_recorded(harness, &pair("app:1.1", "app:1.1"), "two").await;
    assert_waited_for_api(harness, bumped, true).await;

    // api's new image fails: web is skipped, with a reason, and nothing is done to it.
    let before = harness.mutations();
    let (reports, calls) = apply_recorded(harness, &pair("app:broken", "app:1.2"), "three").await;
    let api = report_of(&reports, "prod", "api");
    assert!(
        matches!(api.outcome, ServiceOutcome::Failed { .. }),
        "{api:#?}"
    );
    let web = report_of(&reports, "prod", "web");
    let ServiceOutcome::Skipped { reason } = &web.outcome else {
        panic!("{web:#?}")
    };
    assert!(reason.contains("dependency api"), "{reason}");
    assert!(web.actions.is_empty(), "{web:#?}");
    let web_calls = first_mutating_on(&calls, "web");
    assert_eq!(web_calls, None, "{calls:#?}");
    assert_eq!(harness.revisions("web").len(), 2, "no web:3");
    let delta = mutations_since(&before, &harness.mutations());
    assert_eq!(delta.get("UpdateService"), Some(&1), "api only: {delta:?}");
    assert_eq!(delta.get("CreateService"), None, "{delta:?}");
    let live_web = describe(harness.ecs(), "prod", "web").await;
    assert!(
        live_web.task_definition_arn.ends_with("web:2"),
        "{live_web:#?}"
    );
}

/// Both services synced, and web's first mutating call came after api's rollout was seen
/// COMPLETED (and, when `updated`, api's UpdateService before that and web's after).
async fn assert_waited_for_api<H: ScenarioHarness>(
    harness: &H,
    (reports, calls): (Vec<ServiceReport>, Vec<Call>),
    updated: bool,
) {
    assert!(
        reports.iter().all(|r| r.outcome == ServiceOutcome::Synced),
        "{reports:#?}"
    );
    let api_td = describe(harness.ecs(), "prod", "api")
        .await
        .task_definition_arn;
    let api_completed = calls.iter().position(|c| saw_completed(c, "api", &api_td));
    let web_first = first_mutating_on(&calls, "web");
    assert!(
        api_completed.is_some() && api_completed < web_first,
        "{calls:#?}"
    );
    if updated {
        let updated_at = |name: &str| {
            let update = |c: &Call| c.operation == "UpdateService" && c.subject == name;
            calls.iter().position(update)
        };
        let (api_update, web_update) = (updated_at("api"), updated_at("web"));
        let in_order = api_update.is_some() && api_update < api_completed;
        assert!(in_order && api_completed < web_update, "{calls:#?}");
    }
}

/// Where the first mutating call on `name` is in `calls`, if any.
fn first_mutating_on(calls: &[Call], name: &str) -> Option<usize> {
    calls
        .iter()
        .position(|c| c.subject == name && c.operation != "DescribeServices")
}

/// Applies commit `revision` through a [`Recorded`] port; returns the reports and the calls.
async fn apply_recorded<H: ScenarioHarness>(
    harness: &H,
    outcome: &LoadOutcome,
    revision: &str,
) -> (Vec<ServiceReport>, Vec<Call>) {
    let recorded = Recorded::new(harness.ecs());
    let options = options(revision);
    let log = Log::default();
    let reports = plan_and_apply(&recorded, harness.registry(), outcome, &options, &log).await;
    (reports, recorded.calls())
}

/// berth's own service (`ApplyOptions::last`) among three bumped together, one at a time: its
/// first change comes after every call for the other two, although it is first in plan order.
pub async fn berths_own_service_is_changed_after_every_other_service<H: ScenarioHarness>(
    harness: &mut H,
) {
    push_app(harness, &["1.0", "1.1"]);
    let names = ["berth", "web", "worker"];
    let vars = harness.vars();
    let created = estate(&services(&names, |_| "app:1.0".into()), &vars);
    apply_commit(harness, &created, "one", &Log::default()).await;

    let bumped = estate(&services(&names, |_| "app:1.1".into()), &vars);
    let recorded = Recorded::new(harness.ecs());
    let own = ServiceId::new("prod", "berth");
    let options = ApplyOptions {
        concurrency: 1,
        follow: false,
        last: Some(own.clone()),
        ..options("two")
    };
    let reports = plan_and_apply(
        &recorded,
        harness.registry(),
        &bumped,
        &options,
        &Log::default(),
    )
    .await;
    assert!(
        reports
            .iter()
            .all(|r| r.outcome.is_ok() || matches!(r.outcome, ServiceOutcome::Progressing { .. })),
        "{reports:#?}"
    );
    let calls = recorded.mutating();
    let position = |name: &str, first: bool| {
        let on = |(_, subject): &&(&str, String)| {
            subject.as_str() == name || subject.starts_with(&format!("{name}:"))
        };
        let found: Vec<usize> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| on(c))
            .map(|(i, _)| i)
            .collect();
        if first {
            found.first().copied()
        } else {
            found.last().copied()
        }
    };
    let own_first = position("berth", true).expect("berth's own service was changed");
    for other in ["web", "worker"] {
        let last = position(other, false).expect("every service was changed");
        assert!(
            last < own_first,
            "{other}'s calls after berth's own: {calls:#?}"
        );
    }
    let own_calls: Vec<&str> = calls
        .iter()
        .filter(|(_, s)| s == "berth" || s.starts_with("berth:"))
        .map(|(op, _)| *op)
        .collect();
    assert_eq!(
        own_calls,
        ["RegisterTaskDefinition", "UpdateService", "TagResource"],
        "{calls:#?}"
    );
}

/// A stop (SIGTERM) while the first of three services is being changed, one at a time: that
/// service finishes all its calls (UpdateService and its tag), the other two make none and are
/// reported skipped, so nothing is left half-applied.
pub async fn a_stop_mid_apply_finishes_the_service_in_flight_and_starts_no_other<
    H: ScenarioHarness,
>(
    harness: &mut H,
) {
    push_app(harness, &["1.0", "1.1"]);
    let names = ["api", "web", "worker"];
    let vars = harness.vars();
    let created = estate(&services(&names, |_| "app:1.0".into()), &vars);
    apply_commit(harness, &created, "one", &Log::default()).await;

    let (stop_tx, stop) = watch::channel(false);
    let recorded = Recorded::stopping_after_register(harness.ecs(), stop_tx);
    let options = ApplyOptions {
        concurrency: 1,
        follow: false,
        stop: Some(stop),
        ..options("two")
    };
    let bumped = estate(&services(&names, |_| "app:1.1".into()), &vars);
    let reports = plan_and_apply(
        &recorded,
        harness.registry(),
        &bumped,
        &options,
        &Log::default(),
    )
    .await;
    let calls = recorded.mutating();
    let changed: Vec<&ServiceReport> = reports.iter().filter(|r| !r.actions.is_empty()).collect();
    assert_eq!(changed.len(), 1, "one service was in flight: {reports:#?}");
    let in_flight = changed[0].id.clone().expect("an id");
    let operations: Vec<&str> = calls.iter().map(|(op, _)| *op).collect();
    assert_eq!(
        operations,
        ["RegisterTaskDefinition", "UpdateService", "TagResource"],
        "{calls:#?}"
    );
    assert!(
        matches!(
            changed[0].outcome,
            ServiceOutcome::Progressing { .. } | ServiceOutcome::Synced
        ),
        "{reports:#?}"
    );
    for report in reports.iter().filter(|r| r.id.as_ref() != Some(&in_flight)) {
        let ServiceOutcome::Skipped { reason } = &report.outcome else {
            panic!("{report:#?}")
        };
        assert!(reason.contains("shutting down"), "{reason}");
    }
    let unchanged = describe(
        harness.ecs(),
        "prod",
        names
            .iter()
            .find(|n| **n != in_flight.name)
            .expect("another"),
    )
    .await;
    assert!(
        unchanged.task_definition_arn.ends_with(":1"),
        "{unchanged:#?}"
    );
}
