//! The synthetic service manifest the emulator benches (plan, apply, daemon) generate by the
//! hundred: a Fargate service shaped like the corpus's, with the extras each bench wants.

// Each bench compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use berth_testkit::{Network, TestAccount};

/// One generated service. Numbers derived from `index` vary the desired count and team tag so
/// that services are not all alike.
pub struct BenchManifest<'a> {
    account: &'a TestAccount,
    network: &'a Network,
    name: String,
    cluster: String,
    index: usize,
    image: String,
    load_balancer_and_secrets: bool,
    deployment_percents: bool,
}

impl<'a> BenchManifest<'a> {
    /// Service `name` in `cluster` running `app-<repository>:1.0`, its `index` varying the rest.
    pub fn new(
        account: &'a TestAccount,
        network: &'a Network,
        name: impl Into<String>,
        cluster: &str,
        index: usize,
        repository: usize,
    ) -> Self {
        BenchManifest {
            account,
            network,
            name: name.into(),
            cluster: cluster.into(),
            index,
            image: format!(
                "{}.dkr.ecr.us-east-1.amazonaws.com/app-{repository}:1.0",
                account.id()
            ),
            load_balancer_and_secrets: false,
            deployment_percents: true,
        }
    }

    /// Runs `app-<repository>:<tag>` instead.
    pub fn tag(mut self, tag: &str) -> Self {
        if let Some((image, _)) = self.image.rsplit_once(':') {
            self.image = format!("{image}:{tag}");
        }
        self
    }

    /// Adds a target group, a Secrets Manager secret and a health check (more to normalize and
    /// diff), and leaves the deployment percentages to ECS's defaults.
    pub fn with_load_balancer_and_secrets(mut self) -> Self {
        self.load_balancer_and_secrets = true;
        self.deployment_percents = false;
        self
    }

    /// The manifest YAML.
    pub fn text(&self) -> String {
        let id = self.account.id();
        let (name, cluster, index) = (&self.name, &self.cluster, self.index);
        let (subnet_a, subnet_b) = (&self.network.subnets[0], &self.network.subnets[1]);
        let security_group = &self.network.security_group;
        let load_balancer = if self.load_balancer_and_secrets {
            format!(
                "  loadBalancers:\n    - targetGroupArn: arn:aws:elasticloadbalancing:us-east-1:{id}:targetgroup/{name}/0123456789abcdef\n      containerName: app\n      containerPort: 8080\n"
            )
        } else {
            String::new()
        };
        let percents = if self.deployment_percents {
            "    minimumHealthyPercent: 100\n    maximumPercent: 200\n"
        } else {
            ""
        };
        let secrets = if self.load_balancer_and_secrets {
            format!(
                "        secrets:\n          - {{name: DB_PASSWORD, valueFrom: 'arn:aws:secretsmanager:us-east-1:{id}:secret:{name}-db'}}\n        healthCheck: {{command: [CMD-SHELL, 'curl -f http://localhost:8080/health || exit 1']}}\n"
            )
        } else {
            String::new()
        };
        format!(
            "\
apiVersion: berth/v1
kind: Service
metadata:
  name: {name}
  cluster: {cluster}
spec:
  desiredCount: {count}
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration: {{subnets: [{subnet_a}, {subnet_b}], securityGroups: [{security_group}]}}
{load_balancer}  deploymentConfiguration:
{percents}    deploymentCircuitBreaker: {{enable: true, rollback: true}}
  tags: [{{key: team, value: team-{team}}}]
  taskDefinition:
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    executionRoleArn: arn:aws:iam::{id}:role/ecsTaskExecutionRole
    containerDefinitions:
      - name: app
        image: {image}
        portMappings: [{{containerPort: 8080}}]
        environment:
          - {{name: SERVICE, value: {name}}}
          - {{name: LOG_LEVEL, value: info}}
{secrets}        logConfiguration:
          logDriver: awslogs
          options: {{awslogs-group: /ecs/{name}, awslogs-region: us-east-1, awslogs-stream-prefix: app}}
",
            count = index % 3 + 1,
            team = index % 7,
            image = self.image,
        )
    }
}
