//! Fixture builders: a valid manifest as text, edited line by line, so tests can provoke an
//! error and assert its exact `line:column`.

/// A manifest under construction; starts valid.
#[derive(Debug, Clone)]
pub struct ManifestText {
    lines: Vec<String>,
}

/// A valid Fargate web service behind a load balancer. Line numbers matter to tests.
const WEB: &str = "\
apiVersion: berth/v1
kind: Service
metadata:
  name: web
  cluster: prod
spec:
  desiredCount: 2
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration:
      subnets: [subnet-0aaa]
      securityGroups: [sg-0123]
  loadBalancers:
    - {targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1', containerName: web, containerPort: 8080}
  taskDefinition:
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - name: web
        image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2
        portMappings: [{containerPort: 8080}]
        environment: [{name: LOG_LEVEL, value: info}]
        secrets: [{name: DB_PASSWORD, valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf'}]
";

impl ManifestText {
    /// The valid web service (see [`WEB`]).
    pub fn web() -> Self {
        ManifestText {
            lines: WEB.lines().map(str::to_string).collect(),
        }
    }

    /// Renames the service (line 4).
    pub fn named(self, name: &str) -> Self {
        self.set(4, &format!("  name: {name}"))
    }

    /// Replaces 1-based line `line` with `text`.
    pub fn set(mut self, line: usize, text: &str) -> Self {
        self.lines[line - 1] = text.to_string();
        self
    }

    /// Replaces the first line containing `from` with `to` (panics if none: a broken fixture).
    pub fn replace(mut self, from: &str, to: &str) -> Self {
        let line = self
            .lines
            .iter_mut()
            .find(|line| line.contains(from))
            .unwrap_or_else(|| panic!("fixture has no line containing {from:?}"));
        *line = line.replace(from, to);
        self
    }

    /// Appends lines at the end (inside the last container when indented by 8).
    pub fn append(mut self, text: &str) -> Self {
        self.lines.extend(text.lines().map(str::to_string));
        self
    }

    /// The manifest text.
    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }
}
