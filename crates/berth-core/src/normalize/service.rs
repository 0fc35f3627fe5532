//! Service rules: the defaults ECS fills into `CreateService` input and reports back from
//! `DescribeServices`.

use serde_json::{Map, Value, json};

use super::fields::{
    awsvpc_configuration, capacity_provider_item, circuit_breaker, deployment_alarms,
    deployment_configuration as deployment, deployment_controller as controller,
    network_configuration, service as svc, service_connect, service_connect_service,
};
use super::generic::{drop_if, fill, items, items_mut};
use super::task::role_name;

/// Whether the service runs on Fargate: `launchType: FARGATE`, a `FARGATE`/`FARGATE_SPOT`
/// capacity provider, or neither launch type nor strategy given and a task definition that
/// runs only on Fargate.
pub(crate) fn runs_on_fargate(service: &Map<String, Value>, task_fargate_only: bool) -> bool {
    let launch_type = service.get(svc::LAUNCH_TYPE).and_then(Value::as_str);
    let providers: Vec<&str> = service
        .get(svc::CAPACITY_PROVIDER_STRATEGY)
        .map(items)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|item| {
            item.get(capacity_provider_item::CAPACITY_PROVIDER)
                .and_then(Value::as_str)
        })
        .collect();
    launch_type == Some("FARGATE")
        || providers
            .iter()
            .any(|p| matches!(*p, "FARGATE" | "FARGATE_SPOT"))
        || (launch_type.is_none() && providers.is_empty() && task_fargate_only)
}

fn scheduling_strategy(service: &Map<String, Value>) -> &str {
    service
        .get(svc::SCHEDULING_STRATEGY)
        .and_then(Value::as_str)
        .unwrap_or("REPLICA")
}

fn deployment_controller(service: &Map<String, Value>) -> &str {
    service
        .get(svc::DEPLOYMENT_CONTROLLER)
        .and_then(|c| c.get(controller::TYPE))
        .and_then(Value::as_str)
        .unwrap_or("ECS")
}

/// Rule: the service-level defaults ECS reports: `schedulingStrategy: REPLICA`,
/// `deploymentController: {type: ECS}`, `propagateTags: NONE`, `enableECSManagedTags: false`,
/// `enableExecuteCommand: false`.
pub(crate) fn service_defaults(service: &mut Map<String, Value>) {
    fill(service, svc::SCHEDULING_STRATEGY, json!("REPLICA"));
    match service.get_mut(svc::DEPLOYMENT_CONTROLLER) {
        Some(Value::Object(existing)) => fill(existing, controller::TYPE, json!("ECS")),
        _ => {
            let mut ecs = Map::new();
            ecs.insert(controller::TYPE.into(), json!("ECS"));
            service.insert(svc::DEPLOYMENT_CONTROLLER.into(), Value::Object(ecs));
        }
    }
    fill(service, svc::PROPAGATE_TAGS, json!("NONE"));
    fill(service, svc::ENABLE_ECS_MANAGED_TAGS, json!(false));
    fill(service, svc::ENABLE_EXECUTE_COMMAND, json!(false));
}

/// Rule: a `DAEMON` service's `desiredCount` is not configuration (ECS sets it to the number
/// of container instances), so it is dropped.
pub(crate) fn daemon_desired_count(service: &mut Map<String, Value>) {
    if scheduling_strategy(service) == "DAEMON" {
        service.remove(svc::DESIRED_COUNT);
    }
}

/// Rule: `availabilityZoneRebalancing` is `ENABLED` when absent on a `REPLICA` service (what
/// CreateService defaults to) and `DISABLED` on a `DAEMON` service (which cannot rebalance).
pub(crate) fn az_rebalancing_default(service: &mut Map<String, Value>) {
    let default = match scheduling_strategy(service) {
        "DAEMON" => "DISABLED",
        _ => "ENABLED",
    };
    fill(service, svc::AVAILABILITY_ZONE_REBALANCING, json!(default));
}

/// Rule: `healthCheckGracePeriodSeconds: 0` is the same as absent (0 is the default).
pub(crate) fn health_check_grace_period_default(service: &mut Map<String, Value>) {
    drop_if(service, svc::HEALTH_CHECK_GRACE_PERIOD_SECONDS, &json!(0));
}

/// Rule: `platformVersion: LATEST` when absent on Fargate.
pub(crate) fn platform_version_default(service: &mut Map<String, Value>, fargate: bool) {
    if fargate {
        fill(service, svc::PLATFORM_VERSION, json!("LATEST"));
    }
}

/// Rule: `networkConfiguration.awsvpcConfiguration.assignPublicIp: DISABLED` when absent.
pub(crate) fn assign_public_ip_default(service: &mut Map<String, Value>) {
    if let Some(Value::Object(network)) = service.get_mut(svc::NETWORK_CONFIGURATION)
        && let Some(Value::Object(awsvpc)) =
            network.get_mut(network_configuration::AWSVPC_CONFIGURATION)
    {
        fill(
            awsvpc,
            awsvpc_configuration::ASSIGN_PUBLIC_IP,
            json!("DISABLED"),
        );
    }
}

/// Rule: `deploymentConfiguration` defaults, filled per key: `maximumPercent: 200` and
/// `minimumHealthyPercent: 100` (`100` and `0` for a `DAEMON` service); with the `ECS`
/// deployment controller also `strategy: ROLLING`, `deploymentCircuitBreaker` and `alarms`
/// `{enable: false, rollback: false}`, and `bakeTimeInMinutes: 0` absent under `ROLLING`.
pub(crate) fn deployment_configuration_defaults(service: &mut Map<String, Value>) {
    let daemon = scheduling_strategy(service) == "DAEMON";
    let ecs_controller = deployment_controller(service) == "ECS";
    let config = service
        .entry(svc::DEPLOYMENT_CONFIGURATION)
        .or_insert_with(|| json!({}));
    let Value::Object(config) = config else {
        return;
    };
    let (maximum, minimum) = if daemon { (100, 0) } else { (200, 100) };
    fill(config, deployment::MAXIMUM_PERCENT, json!(maximum));
    fill(config, deployment::MINIMUM_HEALTHY_PERCENT, json!(minimum));
    if !ecs_controller {
        return;
    }
    fill(config, deployment::STRATEGY, json!("ROLLING"));
    if config.get(deployment::STRATEGY) == Some(&json!("ROLLING")) {
        drop_if(config, deployment::BAKE_TIME_IN_MINUTES, &json!(0));
    }
    let switches = [
        (
            deployment::DEPLOYMENT_CIRCUIT_BREAKER,
            circuit_breaker::ENABLE,
            circuit_breaker::ROLLBACK,
        ),
        (
            deployment::ALARMS,
            deployment_alarms::ENABLE,
            deployment_alarms::ROLLBACK,
        ),
    ];
    for (switch, enable, rollback) in switches {
        let entry = config.entry(switch).or_insert_with(|| json!({}));
        if let Value::Object(entry) = entry {
            fill(entry, enable, json!(false));
            fill(entry, rollback, json!(false));
        }
    }
}

/// Rule: capacity provider strategy items have `base: 0` and `weight: 0` when absent.
pub(crate) fn capacity_provider_defaults(service: &mut Map<String, Value>) {
    if let Some(strategy) = service.get_mut(svc::CAPACITY_PROVIDER_STRATEGY) {
        for item in items_mut(strategy) {
            if let Value::Object(item) = item {
                fill(item, capacity_provider_item::BASE, json!(0));
                fill(item, capacity_provider_item::WEIGHT, json!(0));
            }
        }
    }
}

/// Rule: the service `role` compares by role name (ECS takes a name or an ARN).
pub(crate) fn service_role_name(service: &mut Map<String, Value>) {
    if let Some(Value::String(role)) = service.get_mut(svc::ROLE) {
        *role = role_name(role).to_string();
    }
}

/// Rule: a Service Connect service's `discoveryName` is its `portName` when absent.
pub(crate) fn service_connect_defaults(service: &mut Map<String, Value>) {
    if let Some(Value::Object(connect)) = service.get_mut(svc::SERVICE_CONNECT_CONFIGURATION)
        && let Some(Value::Array(services)) = connect.get_mut(service_connect::SERVICES)
    {
        for entry in services {
            if let Value::Object(entry) = entry
                && let Some(port_name) = entry.get(service_connect_service::PORT_NAME).cloned()
            {
                fill(entry, service_connect_service::DISCOVERY_NAME, port_name);
            }
        }
    }
}

/// Applies the service rules, in order. `task_fargate_only`: the task definition runs only
/// on Fargate.
pub(crate) fn apply(service: &mut Map<String, Value>, task_fargate_only: bool) {
    let fargate = runs_on_fargate(service, task_fargate_only);
    service_defaults(service);
    daemon_desired_count(service);
    az_rebalancing_default(service);
    health_check_grace_period_default(service);
    platform_version_default(service, fargate);
    assign_public_ip_default(service);
    deployment_configuration_defaults(service);
    capacity_provider_defaults(service);
    service_role_name(service);
    service_connect_defaults(service);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn fargate_is_read_from_launch_type_providers_or_task_definition() {
        assert!(runs_on_fargate(
            &object(json!({"launchType": "FARGATE"})),
            false
        ));
        assert!(runs_on_fargate(
            &object(json!({"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT"}]})),
            false
        ));
        assert!(runs_on_fargate(
            &object(
                json!({"capacityProviderStrategy": {"FARGATE": {"capacityProvider": "FARGATE"}}})
            ),
            false
        ));
        assert!(runs_on_fargate(&object(json!({})), true));
        assert!(!runs_on_fargate(
            &object(json!({"launchType": "EC2"})),
            true
        ));
        assert!(!runs_on_fargate(&object(json!({})), false));
    }

    #[test]
    fn service_level_defaults_are_filled() {
        let mut service = object(json!({"desiredCount": 2}));
        service_defaults(&mut service);
        assert_eq!(
            service,
            object(json!({
                "desiredCount": 2,
                "schedulingStrategy": "REPLICA",
                "deploymentController": {"type": "ECS"},
                "propagateTags": "NONE",
                "enableECSManagedTags": false,
                "enableExecuteCommand": false,
            }))
        );
        let mut given = object(
            json!({"propagateTags": "SERVICE", "deploymentController": {"type": "CODE_DEPLOY"}}),
        );
        service_defaults(&mut given);
        assert_eq!(given.get("propagateTags"), Some(&json!("SERVICE")));
        assert_eq!(
            given.get("deploymentController"),
            Some(&json!({"type": "CODE_DEPLOY"}))
        );
    }

    #[test]
    fn daemon_desired_count_is_not_configuration() {
        let mut daemon = object(json!({"schedulingStrategy": "DAEMON", "desiredCount": 3}));
        daemon_desired_count(&mut daemon);
        assert_eq!(daemon, object(json!({"schedulingStrategy": "DAEMON"})));
        let mut replica = object(json!({"desiredCount": 3}));
        daemon_desired_count(&mut replica);
        assert_eq!(replica, object(json!({"desiredCount": 3})));
    }

    #[test]
    fn az_rebalancing_defaults_by_scheduling_strategy() {
        let mut replica = object(json!({}));
        az_rebalancing_default(&mut replica);
        assert_eq!(
            replica.get("availabilityZoneRebalancing"),
            Some(&json!("ENABLED"))
        );
        let mut daemon = object(json!({"schedulingStrategy": "DAEMON"}));
        az_rebalancing_default(&mut daemon);
        assert_eq!(
            daemon.get("availabilityZoneRebalancing"),
            Some(&json!("DISABLED"))
        );
    }

    #[test]
    fn zero_grace_period_is_absent() {
        let mut service = object(json!({"healthCheckGracePeriodSeconds": 0}));
        health_check_grace_period_default(&mut service);
        assert!(service.is_empty());
        let mut sixty = object(json!({"healthCheckGracePeriodSeconds": 60}));
        health_check_grace_period_default(&mut sixty);
        assert!(!sixty.is_empty());
    }

    #[test]
    fn platform_version_latest_on_fargate_only() {
        let mut fargate = object(json!({}));
        platform_version_default(&mut fargate, true);
        assert_eq!(fargate.get("platformVersion"), Some(&json!("LATEST")));
        let mut pinned = object(json!({"platformVersion": "1.4.0"}));
        platform_version_default(&mut pinned, true);
        assert_eq!(pinned.get("platformVersion"), Some(&json!("1.4.0")));
        let mut ec2 = object(json!({}));
        platform_version_default(&mut ec2, false);
        assert!(ec2.is_empty());
    }

    #[test]
    fn assign_public_ip_defaults_to_disabled() {
        let mut service =
            object(json!({"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["a"]}}}));
        assign_public_ip_default(&mut service);
        assert_eq!(
            service.get("networkConfiguration"),
            Some(&json!({"awsvpcConfiguration": {"subnets": ["a"], "assignPublicIp": "DISABLED"}}))
        );
        let mut none = object(json!({}));
        assign_public_ip_default(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn deployment_configuration_is_filled_per_key() {
        let mut absent = object(json!({}));
        deployment_configuration_defaults(&mut absent);
        assert_eq!(
            absent.get("deploymentConfiguration"),
            Some(&json!({
                "maximumPercent": 200, "minimumHealthyPercent": 100, "strategy": "ROLLING",
                "deploymentCircuitBreaker": {"enable": false, "rollback": false},
                "alarms": {"enable": false, "rollback": false},
            }))
        );
        let mut partial = object(json!({"deploymentConfiguration": {
            "minimumHealthyPercent": 50, "deploymentCircuitBreaker": {"enable": true},
            "bakeTimeInMinutes": 0,
        }}));
        deployment_configuration_defaults(&mut partial);
        assert_eq!(
            partial.get("deploymentConfiguration"),
            Some(&json!({
                "maximumPercent": 200, "minimumHealthyPercent": 50, "strategy": "ROLLING",
                "deploymentCircuitBreaker": {"enable": true, "rollback": false},
                "alarms": {"enable": false, "rollback": false},
            }))
        );
    }

    #[test]
    fn deployment_configuration_defaults_for_daemon_and_code_deploy() {
        let mut daemon = object(json!({"schedulingStrategy": "DAEMON"}));
        deployment_configuration_defaults(&mut daemon);
        let config = &daemon["deploymentConfiguration"];
        assert_eq!(
            (&config["maximumPercent"], &config["minimumHealthyPercent"]),
            (&json!(100), &json!(0))
        );
        let mut code_deploy = object(json!({"deploymentController": {"type": "CODE_DEPLOY"}}));
        deployment_configuration_defaults(&mut code_deploy);
        assert_eq!(
            code_deploy.get("deploymentConfiguration"),
            Some(&json!({"maximumPercent": 200, "minimumHealthyPercent": 100})),
            "no circuit breaker outside the ECS controller"
        );
    }

    #[test]
    fn capacity_provider_items_get_zero_base_and_weight() {
        let mut service = object(json!({"capacityProviderStrategy": [
            {"capacityProvider": "FARGATE", "weight": 1},
            {"capacityProvider": "FARGATE_SPOT", "base": 1},
        ]}));
        capacity_provider_defaults(&mut service);
        assert_eq!(
            service.get("capacityProviderStrategy"),
            Some(&json!([
                {"capacityProvider": "FARGATE", "weight": 1, "base": 0},
                {"capacityProvider": "FARGATE_SPOT", "base": 1, "weight": 0},
            ]))
        );
    }

    #[test]
    fn service_role_compares_by_name() {
        let mut service = object(json!({"role": "arn:aws:iam::123456789012:role/ecsServiceRole"}));
        service_role_name(&mut service);
        assert_eq!(service.get("role"), Some(&json!("ecsServiceRole")));
    }

    #[test]
    fn service_connect_discovery_name_defaults_to_port_name() {
        let mut service = object(
            json!({"serviceConnectConfiguration": {"enabled": true, "services": [
                {"portName": "http"}, {"portName": "grpc", "discoveryName": "api"},
            ]}}),
        );
        service_connect_defaults(&mut service);
        assert_eq!(
            service["serviceConnectConfiguration"]["services"],
            json!([
                {"portName": "http", "discoveryName": "http"},
                {"portName": "grpc", "discoveryName": "api"},
            ])
        );
    }
}
