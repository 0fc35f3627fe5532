//! Every model field name normalization uses, in one place: the tables of the rules that apply
//! by field name wherever the field occurs ([`DATA_MAPS`], [`KEYED_LISTS`], [`PAIR_LISTS`],
//! [`SET_LISTS`]), and one module per object the service and task definition rules look into,
//! holding the names they use there ([`OBJECTS`] lists them all).
//!
//! The rules name fields only through these constants, so `tests/normalize_fields.rs` can check
//! every name against the generated model (`model::ecs::STRUCT_FIELDS`): a misspelled name would
//! otherwise make its rule silently match nothing.

/// Fields whose value is a map of user data (`name -> value`), once keyed. Their entries are
/// not fields: an empty string there is a value (`FOO=""`), not an absent field, and rules
/// matching field names never look inside. In the model each is a map or a list of pairs.
pub const DATA_MAPS: &[&str] = &[
    "dependsOn",
    "dockerLabels",
    "driverOpts",
    "environment",
    "labels",
    "options",
    "properties",
    "secretOptions",
    "secrets",
    "systemControls",
    "tags",
];

/// Fields whose list of objects becomes a map keyed by one of the object's fields:
/// `(field, key field)`. The object keeps that field too, so an entry is never empty (a volume
/// `{name: data}` is meaningful).
pub const KEYED_LISTS: &[(&str, &str)] = &[
    ("capacityProviderStrategy", "capacityProvider"),
    ("containerDefinitions", "name"),
    ("ulimits", "name"),
    ("volumeConfigurations", "name"),
    ("volumes", "name"),
];

/// Fields whose list of `{key, value}`-like objects becomes a `key -> value` map.
/// `(field, key field, value field)`; a missing value reads as `""` (ECS passes it so).
pub const PAIR_LISTS: &[(&str, &str, &str)] = &[
    ("dependsOn", "containerName", "condition"),
    ("environment", "name", "value"),
    ("properties", "name", "value"),
    ("secretOptions", "name", "valueFrom"),
    ("secrets", "name", "valueFrom"),
    ("systemControls", "namespace", "value"),
    ("tags", "key", "value"),
];

/// Lists that are sets: their order means nothing to ECS, so they are sorted. Lists whose
/// order matters (`command`, `entryPoint`, `dnsServers`, `dnsSearchDomains`,
/// `environmentFiles`, `placementStrategy`, `healthCheck.command`, `mountOptions`) are absent.
pub const SET_LISTS: &[&str] = &[
    "alarmNames",
    "clientAliases",
    "credentialSpecs",
    "devices",
    "dockerSecurityOptions",
    "extraHosts",
    "ignoredExitCodes",
    "inferenceAccelerators",
    "links",
    "loadBalancers",
    "mountPoints",
    "placementConstraints",
    "requiresCompatibilities",
    "resourceRequirements",
    "securityGroups",
    "serviceRegistries",
    "subnets",
    "tagSpecifications",
    "tmpfs",
    "volumesFrom",
    "vpcLatticeConfigurations",
];

/// An object the rules look into, and the fields they name on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object {
    /// The generated root struct the path starts from (`ServiceSpec`, `TaskDefinitionSpec`).
    pub root: &'static str,
    /// The fields leading from the root to the object; a list field leads to its elements.
    pub path: &'static [&'static str],
    /// The fields of the object the rules name.
    pub fields: &'static [&'static str],
}

/// Declares one module per object, with a constant per field name, and [`OBJECTS`] listing
/// them all, so no name the rules use can be left out of the check.
macro_rules! objects {
    ($(
        $(#[$doc:meta])*
        $module:ident at $root:literal [$($segment:literal),*] {
            $($name:ident = $wire:literal,)*
        }
    )*) => {
        $(
            $(#[$doc])*
            pub mod $module {
                $(
                    #[doc = concat!("`", $wire, "`")]
                    pub const $name: &str = $wire;
                )*
            }
        )*

        /// Every object the service and task definition rules look into, with the fields they
        /// name there.
        pub const OBJECTS: &[Object] = &[$(
            Object {
                root: $root,
                path: &[$($segment),*],
                fields: &[$($module::$name),*],
            },
        )*];
    };
}

objects! {
    /// The service (`ServiceSpec`).
    service at "ServiceSpec" [] {
        AVAILABILITY_ZONE_REBALANCING = "availabilityZoneRebalancing",
        CAPACITY_PROVIDER_STRATEGY = "capacityProviderStrategy",
        DEPLOYMENT_CONFIGURATION = "deploymentConfiguration",
        DEPLOYMENT_CONTROLLER = "deploymentController",
        DESIRED_COUNT = "desiredCount",
        ENABLE_ECS_MANAGED_TAGS = "enableECSManagedTags",
        ENABLE_EXECUTE_COMMAND = "enableExecuteCommand",
        HEALTH_CHECK_GRACE_PERIOD_SECONDS = "healthCheckGracePeriodSeconds",
        LAUNCH_TYPE = "launchType",
        NETWORK_CONFIGURATION = "networkConfiguration",
        PLATFORM_VERSION = "platformVersion",
        PROPAGATE_TAGS = "propagateTags",
        ROLE = "role",
        SCHEDULING_STRATEGY = "schedulingStrategy",
        SERVICE_CONNECT_CONFIGURATION = "serviceConnectConfiguration",
        TASK_DEFINITION = "taskDefinition",
    }
    /// An entry of the service's `capacityProviderStrategy`.
    capacity_provider_item at "ServiceSpec" ["capacityProviderStrategy"] {
        BASE = "base",
        CAPACITY_PROVIDER = "capacityProvider",
        WEIGHT = "weight",
    }
    /// The service's `deploymentController`.
    deployment_controller at "ServiceSpec" ["deploymentController"] {
        TYPE = "type",
    }
    /// The service's `networkConfiguration`.
    network_configuration at "ServiceSpec" ["networkConfiguration"] {
        AWSVPC_CONFIGURATION = "awsvpcConfiguration",
    }
    /// The service's `networkConfiguration.awsvpcConfiguration`.
    awsvpc_configuration at "ServiceSpec" ["networkConfiguration", "awsvpcConfiguration"] {
        ASSIGN_PUBLIC_IP = "assignPublicIp",
    }
    /// The service's `deploymentConfiguration`.
    deployment_configuration at "ServiceSpec" ["deploymentConfiguration"] {
        ALARMS = "alarms",
        BAKE_TIME_IN_MINUTES = "bakeTimeInMinutes",
        DEPLOYMENT_CIRCUIT_BREAKER = "deploymentCircuitBreaker",
        MAXIMUM_PERCENT = "maximumPercent",
        MINIMUM_HEALTHY_PERCENT = "minimumHealthyPercent",
        STRATEGY = "strategy",
    }
    /// The service's `deploymentConfiguration.deploymentCircuitBreaker`.
    circuit_breaker at "ServiceSpec" ["deploymentConfiguration", "deploymentCircuitBreaker"] {
        ENABLE = "enable",
        ROLLBACK = "rollback",
    }
    /// The service's `deploymentConfiguration.alarms`.
    deployment_alarms at "ServiceSpec" ["deploymentConfiguration", "alarms"] {
        ENABLE = "enable",
        ROLLBACK = "rollback",
    }
    /// The service's `serviceConnectConfiguration`.
    service_connect at "ServiceSpec" ["serviceConnectConfiguration"] {
        SERVICES = "services",
    }
    /// An entry of the service's `serviceConnectConfiguration.services`.
    service_connect_service at "ServiceSpec" ["serviceConnectConfiguration", "services"] {
        DISCOVERY_NAME = "discoveryName",
        PORT_NAME = "portName",
    }
    /// The task definition (`TaskDefinitionSpec`).
    task_definition at "TaskDefinitionSpec" [] {
        CONTAINER_DEFINITIONS = "containerDefinitions",
        CPU = "cpu",
        ENABLE_FAULT_INJECTION = "enableFaultInjection",
        EPHEMERAL_STORAGE = "ephemeralStorage",
        EXECUTION_ROLE_ARN = "executionRoleArn",
        MEMORY = "memory",
        NETWORK_MODE = "networkMode",
        PROXY_CONFIGURATION = "proxyConfiguration",
        REQUIRES_COMPATIBILITIES = "requiresCompatibilities",
        RUNTIME_PLATFORM = "runtimePlatform",
        TASK_ROLE_ARN = "taskRoleArn",
        VOLUMES = "volumes",
    }
    /// The task definition's `ephemeralStorage`.
    ephemeral_storage at "TaskDefinitionSpec" ["ephemeralStorage"] {
        SIZE_IN_GIB = "sizeInGiB",
    }
    /// The task definition's `runtimePlatform`.
    runtime_platform at "TaskDefinitionSpec" ["runtimePlatform"] {
        CPU_ARCHITECTURE = "cpuArchitecture",
        OPERATING_SYSTEM_FAMILY = "operatingSystemFamily",
    }
    /// The task definition's `proxyConfiguration`.
    proxy_configuration at "TaskDefinitionSpec" ["proxyConfiguration"] {
        TYPE = "type",
    }
    /// An entry of the task definition's `volumes`.
    volume at "TaskDefinitionSpec" ["volumes"] {
        CONFIGURED_AT_LAUNCH = "configuredAtLaunch",
        DOCKER_VOLUME_CONFIGURATION = "dockerVolumeConfiguration",
        EFS_VOLUME_CONFIGURATION = "efsVolumeConfiguration",
    }
    /// A volume's `efsVolumeConfiguration`.
    efs_volume at "TaskDefinitionSpec" ["volumes", "efsVolumeConfiguration"] {
        AUTHORIZATION_CONFIG = "authorizationConfig",
        ROOT_DIRECTORY = "rootDirectory",
        TRANSIT_ENCRYPTION = "transitEncryption",
    }
    /// A volume's `efsVolumeConfiguration.authorizationConfig`.
    efs_authorization at "TaskDefinitionSpec"
        ["volumes", "efsVolumeConfiguration", "authorizationConfig"]
    {
        IAM = "iam",
    }
    /// A volume's `dockerVolumeConfiguration`.
    docker_volume at "TaskDefinitionSpec" ["volumes", "dockerVolumeConfiguration"] {
        AUTOPROVISION = "autoprovision",
        SCOPE = "scope",
    }
    /// An entry of the task definition's `containerDefinitions`.
    container at "TaskDefinitionSpec" ["containerDefinitions"] {
        CPU = "cpu",
        DISABLE_NETWORKING = "disableNetworking",
        ESSENTIAL = "essential",
        HEALTH_CHECK = "healthCheck",
        IMAGE = "image",
        INTERACTIVE = "interactive",
        LINUX_PARAMETERS = "linuxParameters",
        MOUNT_POINTS = "mountPoints",
        PORT_MAPPINGS = "portMappings",
        PRIVILEGED = "privileged",
        PSEUDO_TERMINAL = "pseudoTerminal",
        READONLY_ROOT_FILESYSTEM = "readonlyRootFilesystem",
        VOLUMES_FROM = "volumesFrom",
    }
    /// A container's `linuxParameters`.
    linux_parameters at "TaskDefinitionSpec" ["containerDefinitions", "linuxParameters"] {
        CAPABILITIES = "capabilities",
        DEVICES = "devices",
        INIT_PROCESS_ENABLED = "initProcessEnabled",
    }
    /// A container's `linuxParameters.capabilities`.
    capabilities at "TaskDefinitionSpec" ["containerDefinitions", "linuxParameters", "capabilities"] {
        ADD = "add",
        DROP = "drop",
    }
    /// An entry of a container's `linuxParameters.devices`.
    device at "TaskDefinitionSpec" ["containerDefinitions", "linuxParameters", "devices"] {
        PERMISSIONS = "permissions",
    }
    /// An entry of a container's `portMappings`.
    port_mapping at "TaskDefinitionSpec" ["containerDefinitions", "portMappings"] {
        CONTAINER_PORT = "containerPort",
        HOST_PORT = "hostPort",
        PROTOCOL = "protocol",
    }
    /// A container's `healthCheck`.
    health_check at "TaskDefinitionSpec" ["containerDefinitions", "healthCheck"] {
        INTERVAL = "interval",
        RETRIES = "retries",
        START_PERIOD = "startPeriod",
        TIMEOUT = "timeout",
    }
    /// An entry of a container's `mountPoints`.
    mount_point at "TaskDefinitionSpec" ["containerDefinitions", "mountPoints"] {
        READ_ONLY = "readOnly",
    }
    /// An entry of a container's `volumesFrom`.
    volume_from at "TaskDefinitionSpec" ["containerDefinitions", "volumesFrom"] {
        READ_ONLY = "readOnly",
    }
}
