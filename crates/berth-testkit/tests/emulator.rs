//! Integration tests of the emulator launcher against a real moto server (one per this binary).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;

use berth_testkit::{
    DEFAULT_ACCOUNT, Emulator, EmulatorError, INSTALL_COMMAND, MOTO_VERSION, MotoSearch,
};
use serde_json::{Value, json};

fn emulator() -> &'static Emulator {
    match Emulator::shared() {
        Ok(emulator) => emulator,
        Err(error) => panic!("{error}"),
    }
}

fn cluster_arns(listing: &Value) -> Vec<String> {
    listing["clusterArns"]
        .as_array()
        .expect("clusterArns")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

#[test]
fn accounts_are_isolated() {
    let a = emulator().account();
    let b = emulator().account();
    assert_ne!(a.id(), b.id());

    let created = a
        .ecs("CreateCluster", json!({ "clusterName": "iso" }))
        .unwrap();
    let arn = created["cluster"]["clusterArn"].as_str().unwrap();
    assert_eq!(arn, format!("arn:aws:ecs:us-east-1:{}:cluster/iso", a.id()));

    let in_a = cluster_arns(&a.ecs("ListClusters", json!({})).unwrap());
    let in_b = cluster_arns(&b.ecs("ListClusters", json!({})).unwrap());
    assert!(
        in_a.iter().any(|arn| arn.ends_with(":cluster/iso")),
        "{in_a:?}"
    );
    assert!(
        !in_b.iter().any(|arn| arn.ends_with(":cluster/iso")),
        "{in_b:?}"
    );
}

#[test]
fn accounts_get_unique_twelve_digit_ids() {
    let ids: Vec<String> = (0..50)
        .map(|_| emulator().account().id().to_string())
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for id in &ids {
        assert_eq!(id.len(), 12, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
        assert_ne!(id, DEFAULT_ACCOUNT);
    }
    assert_eq!(emulator().default_account().id(), DEFAULT_ACCOUNT);
}

#[test]
fn ecr_put_image_then_describe_images_returns_a_digest() {
    let account = emulator().account();
    account
        .ecr("CreateRepository", json!({ "repositoryName": "web" }))
        .unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 10,
            "digest": format!("sha256:{}", "a".repeat(64)),
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 20,
            "digest": format!("sha256:{}", "b".repeat(64)),
        }],
    });
    let pushed = account
        .ecr(
            "PutImage",
            json!({
                "repositoryName": "web",
                "imageTag": "1.4.2",
                "imageManifest": manifest.to_string(),
            }),
        )
        .unwrap();
    let pushed_digest = pushed["image"]["imageId"]["imageDigest"].as_str().unwrap();

    let described = account
        .ecr(
            "DescribeImages",
            json!({ "repositoryName": "web", "imageIds": [{ "imageTag": "1.4.2" }] }),
        )
        .unwrap();
    let digest = described["imageDetails"][0]["imageDigest"]
        .as_str()
        .unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(digest, pushed_digest);
}

#[test]
fn push_image_gives_each_tag_its_own_digest_and_is_idempotent() {
    let account = emulator().account();
    let first = account.push_image("api", "2.0.1").unwrap();
    let second = account.push_image("api", "2.1.0").unwrap();
    assert_ne!(first, second);
    assert_eq!(account.push_image("api", "2.0.1").unwrap(), first);

    let described = account
        .ecr("DescribeImages", json!({ "repositoryName": "api" }))
        .unwrap();
    assert_eq!(described["imageDetails"].as_array().unwrap().len(), 2);
}

#[test]
fn default_network_has_subnets_and_a_security_group() {
    let account = emulator().account();
    let network = account.default_network().unwrap();
    assert!(network.vpc.starts_with("vpc-"), "{network:?}");
    assert!(network.subnets.len() >= 2, "{network:?}");
    assert!(
        network.subnets.iter().all(|id| id.starts_with("subnet-")),
        "{network:?}"
    );
    assert!(network.security_group.starts_with("sg-"), "{network:?}");
    // Stable within an account, different in another.
    assert_eq!(account.default_network().unwrap(), network);
    let other = emulator().account().default_network().unwrap();
    assert_ne!(other.security_group, network.security_group);
}

#[test]
fn create_service_accepts_the_default_network_and_rejects_unknown_subnets() {
    let account = emulator().account();
    let network = account.default_network().unwrap();
    account
        .ecs("CreateCluster", json!({ "clusterName": "prod" }))
        .unwrap();
    let registered = account
        .ecs(
            "RegisterTaskDefinition",
            json!({
                "family": "web",
                "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": [{ "name": "web", "image": "nginx:1.27", "essential": true }],
            }),
        )
        .unwrap();
    let task_definition = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap();

    let service = |subnets: &[String]| {
        json!({
            "cluster": "prod",
            "serviceName": "web",
            "taskDefinition": task_definition,
            "desiredCount": 1,
            "launchType": "FARGATE",
            "networkConfiguration": { "awsvpcConfiguration": {
                "subnets": subnets,
                "securityGroups": [network.security_group],
            }},
        })
    };
    let error = account
        .ecs(
            "CreateService",
            service(&["subnet-0000000000000000".to_string()]),
        )
        .unwrap_err();
    assert_eq!(
        error.api_code(),
        Some("InvalidParameterException"),
        "{error}"
    );

    let created = account
        .ecs("CreateService", service(&network.subnets[..2]))
        .unwrap();
    assert_eq!(created["service"]["serviceName"], "web");
}

#[test]
fn api_errors_carry_the_aws_error_code() {
    let account = emulator().account();
    let error = account
        .ecs(
            "DescribeServices",
            json!({ "cluster": "nope", "services": ["web"] }),
        )
        .unwrap_err();
    assert_eq!(
        error.api_code(),
        Some("ClusterNotFoundException"),
        "{error}"
    );
    assert!(
        matches!(error, EmulatorError::Api { status: 400, .. }),
        "{error}"
    );

    let error = account
        .ec2("DescribeSubnets", &[("SubnetId.1", "subnet-nope")])
        .unwrap_err();
    assert_eq!(
        error.api_code(),
        Some("InvalidSubnetID.NotFound"),
        "{error}"
    );
}

#[test]
fn missing_moto_fails_with_the_install_command() {
    let search = MotoSearch {
        venv: Some(PathBuf::from(
            "/nonexistent/deploy/local/.venv/bin/moto_server",
        )),
        env_override: Some(OsString::from("/nonexistent/moto_server")),
        path: Some(OsString::from("/nonexistent/bin")),
    };
    let error = search.locate().unwrap_err();
    assert!(
        matches!(error, EmulatorError::NotInstalled { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains(INSTALL_COMMAND), "{message}");
    assert!(
        message.contains(&format!("pip install 'moto[server]=={MOTO_VERSION}'")),
        "{message}"
    );
    assert!(message.contains("/nonexistent/moto_server"), "{message}");
}

#[test]
fn the_real_search_finds_moto() {
    // The same search `Emulator::shared` uses: fails (not skips) where moto is missing.
    let program = MotoSearch::from_env().locate().unwrap();
    assert!(program.ends_with("moto_server"), "{}", program.display());
}

#[test]
fn reset_wipes_a_private_emulator_which_stops_on_drop() {
    let private = Emulator::start().unwrap();
    assert_ne!(private.port(), emulator().port());
    let account = private.account();
    account
        .ecs("CreateCluster", json!({ "clusterName": "gone" }))
        .unwrap();
    let before = account.default_network().unwrap();

    private.reset().unwrap();
    assert!(cluster_arns(&account.ecs("ListClusters", json!({})).unwrap()).is_empty());
    assert_ne!(account.default_network().unwrap(), before);

    let addr = private.addr();
    drop(private);
    assert!(berth_testkit::http::get(addr, "/moto-api/").is_err());
}

/// Sets an emulator extension setting (`/berth-moto/NAME`) for one account.
fn berth_moto_setting(account: &berth_testkit::TestAccount, name: &str, value: Value) {
    let response = berth_testkit::http::post_json(
        emulator().addr(),
        &format!("/berth-moto/{name}"),
        &[(berth_testkit::ACCOUNT_HEADER, account.id())],
        &value,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert!(response.is_success(), "{name}: {}", response.text());
}

fn describe_web(account: &berth_testkit::TestAccount) -> Value {
    let described = account
        .ecs(
            "DescribeServices",
            json!({ "cluster": "prod", "services": ["web"] }),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    described["services"][0].clone()
}

/// Polls until the PRIMARY deployment is COMPLETED (the emulator extension's rollout).
fn wait_for_completed_rollout(account: &berth_testkit::TestAccount) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let service = describe_web(account);
        if service["deployments"][0]["rolloutState"] == "COMPLETED" {
            return service;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rollout did not complete: {service:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn update_service_starts_a_new_primary_deployment_that_completes() {
    let account = emulator().account();
    berth_moto_setting(&account, "rollout-seconds", json!(0.5));
    let network = account.default_network().unwrap();
    account
        .ecs("CreateCluster", json!({ "clusterName": "prod" }))
        .unwrap();
    let register = |image: &str| {
        account
            .ecs(
                "RegisterTaskDefinition",
                json!({
                    "family": "web",
                    "networkMode": "awsvpc",
                    "requiresCompatibilities": ["FARGATE"],
                    "cpu": "256",
                    "memory": "512",
                    "containerDefinitions": [{ "name": "web", "image": image }],
                }),
            )
            .unwrap()["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let old = register("nginx:1.27");
    let new = register("nginx:1.28");
    let created = account
        .ecs(
            "CreateService",
            json!({
                "cluster": "prod",
                "serviceName": "web",
                "taskDefinition": old,
                "desiredCount": 2,
                "launchType": "FARGATE",
                "networkConfiguration": { "awsvpcConfiguration": {
                    "subnets": network.subnets[..2],
                    "securityGroups": [network.security_group],
                }},
                "deploymentConfiguration": {
                    "deploymentCircuitBreaker": { "enable": true, "rollback": true },
                },
            }),
        )
        .unwrap();
    assert_eq!(
        created["service"]["deployments"][0]["rolloutState"],
        "IN_PROGRESS"
    );
    let first = wait_for_completed_rollout(&account);
    let first_id = first["deployments"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        first["deploymentConfiguration"]["deploymentCircuitBreaker"],
        json!({ "enable": true, "rollback": true })
    );

    // `web:2`, not the ARN: the emulator stores the full ARN, as ECS does.
    let updated = account
        .ecs(
            "UpdateService",
            json!({ "cluster": "prod", "service": "web", "taskDefinition": "web:2" }),
        )
        .unwrap();
    let deployments = updated["service"]["deployments"].as_array().unwrap();
    assert_eq!(updated["service"]["taskDefinition"], new.as_str());
    assert_eq!(deployments.len(), 2, "{deployments:#?}");
    assert_eq!(deployments[0]["status"], "PRIMARY");
    assert_eq!(deployments[0]["rolloutState"], "IN_PROGRESS");
    assert_eq!(deployments[0]["taskDefinition"], new.as_str());
    assert_eq!(deployments[0]["pendingCount"], 2);
    assert_eq!(deployments[1]["status"], "ACTIVE");
    assert_eq!(deployments[1]["id"], first_id.as_str());
    assert_eq!(deployments[1]["taskDefinition"], old.as_str());
    let new_id = deployments[0]["id"].as_str().unwrap().to_string();
    assert!(
        new_id.starts_with("ecs-svc/") && new_id != first_id,
        "{new_id}"
    );

    let done = wait_for_completed_rollout(&account);
    let deployments = done["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1, "{deployments:#?}");
    assert_eq!(deployments[0]["id"], new_id.as_str());
    assert_eq!(deployments[0]["runningCount"], 2);
    assert_eq!(done["runningCount"], 2);
    assert_eq!(
        done["events"][0]["message"],
        "(service web) has reached a steady state."
    );
    assert_eq!(
        done["events"][1]["message"],
        format!("(service web) (deployment {new_id}) deployment completed.").as_str()
    );
}
