//! Revision retention against the emulator through the real adapter: the engine's
//! `retain_revisions` lists, decides and deregisters, and ECS's own answers show the result.

use std::collections::BTreeSet;

use aws_sdk_ecs::types::{AssignPublicIp, AwsVpcConfiguration, LaunchType, NetworkConfiguration};
use berth_aws::Aws;
use berth_core::live::ServiceLookup;
use berth_engine::retention::{self, DEFAULT_LIMIT, retain_revisions};
use berth_testkit::{Network, TestAccount};
use serde_json::json;

use super::support::emulator_account;
use super::{adapter, counts, register_plain_task_definition};

/// Creates service `name` in `prod` running `task_definition`.
async fn create_service(aws: &Aws, network: &Network, name: &str, task_definition: &str) {
    let awsvpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(network.subnets.clone()))
        .security_groups(&network.security_group)
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .expect("awsvpc");
    aws.ecs_client()
        .create_service()
        .cluster("prod")
        .service_name(name)
        .task_definition(task_definition)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(awsvpc)
                .build(),
        )
        .send()
        .await
        .expect("CreateService");
}

/// The status ECS reports for `arn` (read directly, not through the adapter).
fn status(account: &TestAccount, arn: &str) -> String {
    let described = account
        .ecs("DescribeTaskDefinition", json!({ "taskDefinition": arn }))
        .expect("DescribeTaskDefinition");
    described["taskDefinition"]["status"]
        .as_str()
        .expect("a status")
        .to_owned()
}

#[tokio::test]
async fn old_unused_revisions_are_deregistered_and_the_rest_stay_active() {
    let account = emulator_account();
    let network = account.default_network().expect("default VPC");
    account
        .ecs("CreateCluster", json!({ "clusterName": "prod" }))
        .expect("CreateCluster");
    let aws = adapter(&account).await;
    let mut revisions = Vec::new();
    for _ in 0..5 {
        revisions.push(register_plain_task_definition(&aws, "retained").await);
    }
    let other: Vec<String> = vec![
        register_plain_task_definition(&aws, "retained-other").await,
        register_plain_task_definition(&aws, "retained-other").await,
    ];
    create_service(&aws, &network, "web", &revisions[1]).await;

    // What the lead's reconcile passes: the revisions the live services use.
    let lookups =
        (aws.describe_services("prod", &["web".to_owned()]).await).expect("DescribeServices");
    let services = lookups.iter().filter_map(|lookup| match lookup {
        ServiceLookup::Found(service) => Some(service.as_ref()),
        ServiceLookup::Missing(_) => None,
    });
    let in_use = retention::task_definitions_in_use(services);
    assert_eq!(in_use, BTreeSet::from([revisions[1].clone()]));

    let families = BTreeSet::from(["retained".to_owned()]);
    let report = retain_revisions(&aws, &families, &in_use, 2, DEFAULT_LIMIT).await;
    println!(
        "retention, 5 revisions, 1 in use, keep 2: {report:?}; ListTaskDefinitions {:?}, \
         DeregisterTaskDefinition {:?}",
        counts(&aws, "ListTaskDefinitions"),
        counts(&aws, "DeregisterTaskDefinition")
    );
    assert_eq!(
        report.deregistered,
        [revisions[0].clone(), revisions[2].clone()]
    );
    assert!(report.failed.is_empty() && report.unlisted.is_empty());
    assert_eq!(report.deferred, 0);
    let statuses: Vec<String> = revisions.iter().map(|arn| status(&account, arn)).collect();
    assert_eq!(
        statuses,
        ["INACTIVE", "ACTIVE", "INACTIVE", "ACTIVE", "ACTIVE"]
    );
    for arn in &other {
        assert_eq!(status(&account, arn), "ACTIVE", "not a managed family");
    }
    assert_eq!(aws.counters().total("ListTaskDefinitions"), 1);
    assert_eq!(
        counts(&aws, "DeregisterTaskDefinition").get("success"),
        Some(&2)
    );

    // The listing now has the three that stay; a second run changes nothing.
    let listed = (aws.list_active_task_definitions("retained").await).expect("list");
    assert_eq!(
        listed,
        [
            revisions[1].clone(),
            revisions[3].clone(),
            revisions[4].clone()
        ]
    );
    let again = retain_revisions(&aws, &families, &in_use, 2, DEFAULT_LIMIT).await;
    assert!(again.deregistered.is_empty() && again.failed.is_empty());
    assert_eq!(aws.counters().total("DeregisterTaskDefinition"), 2);

    // The service still runs its (ACTIVE) revision; a deregistered one stays readable.
    let inactive = (aws.describe_task_definition(&revisions[0]).await).expect("describe");
    assert_eq!(
        inactive.status, "INACTIVE",
        "read again, not from the cache"
    );
}
