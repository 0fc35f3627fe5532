//! Rules that hold for every ECS shape, applied by field name wherever the field occurs:
//! dropping empty values, turning order-insensitive lists into keyed maps or sorted lists, and
//! sorting object keys so the normalized form has one spelling.

use serde_json::{Map, Value};

use super::fields::{
    DATA_MAPS, KEYED_LISTS, PAIR_LISTS, SET_LISTS, capabilities, container, device,
    linux_parameters, port_mapping,
};

fn is_keyed_map(field: &str) -> bool {
    KEYED_LISTS.iter().any(|(name, _)| *name == field)
}

fn is_data_map(field: &str) -> bool {
    DATA_MAPS.contains(&field)
}

/// Whether a value counts as absent: `null`, `""`, `[]` or `{}`.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Rule: `null`, empty string, empty list and empty map are the same as an absent field
/// (describe output writes `null`/`[]` for unset fields, users write `""`). Drops them,
/// recursively, innermost first, so an object that only held empty fields goes too.
///
/// List elements are never dropped (`command: ["sh", "-c", ""]` keeps its `""`), and entries
/// of data maps keep `""` (an environment variable set to the empty string is set).
pub(crate) fn drop_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (field, child) in map.iter_mut() {
                drop_empty_field(field, child);
            }
            map.retain(|_, child| !is_empty(child));
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
}

fn drop_empty_field(field: &str, value: &mut Value) {
    match value {
        Value::Object(entries) if is_data_map(field) => entries.retain(|_, v| !v.is_null()),
        Value::Object(entries) if is_keyed_map(field) => {
            entries.values_mut().for_each(drop_empty);
            entries.retain(|_, entry| !is_empty(entry));
        }
        _ => drop_empty(value),
    }
}

/// Calls `visit(field, value)` for every field of every object in `value`, at any depth,
/// parents before children. Entries of keyed maps are visited as objects (their keys are
/// names, not fields); data maps are not entered.
pub(crate) fn visit_fields(value: &mut Value, visit: &mut dyn FnMut(&str, &mut Value)) {
    match value {
        Value::Object(map) => {
            for (field, child) in map.iter_mut() {
                visit(field, child);
                match child {
                    Value::Object(_) if is_data_map(field) => {}
                    Value::Object(entries) if is_keyed_map(field) => {
                        for entry in entries.values_mut() {
                            visit_fields(entry, visit);
                        }
                    }
                    _ => visit_fields(child, visit),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                visit_fields(item, visit);
            }
        }
        _ => {}
    }
}

/// Rule: lists of named objects whose order means nothing become maps keyed by that name
/// (`containerDefinitions` by `name`, `volumes` by `name`, `ulimits` by `name`,
/// `capacityProviderStrategy` by `capacityProvider`), so a diff reads
/// `containerDefinitions.web.image` and reordering is no change. A list with an entry that
/// lacks the key, or with a duplicate key, is left as a list (it then compares in order).
pub(crate) fn key_named_lists(value: &mut Value) {
    visit_fields(value, &mut |field, child| {
        if let Some((_, key)) = KEYED_LISTS.iter().find(|(name, _)| *name == field)
            && let Value::Array(items) = child
            && let Some(map) = keyed(items, key)
        {
            *child = Value::Object(map);
        }
    });
}

fn keyed(items: &[Value], key: &str) -> Option<Map<String, Value>> {
    let mut map = Map::new();
    for item in items {
        let name = item.get(key)?.as_str()?;
        if map.insert(name.to_string(), item.clone()).is_some() {
            return None;
        }
    }
    Some(map)
}

/// Rule: lists of pairs become maps: `environment` name -> value, `secrets` and
/// `logConfiguration.secretOptions` name -> valueFrom, `tags` key -> value,
/// `proxyConfiguration.properties` name -> value, `systemControls` namespace -> value,
/// `dependsOn` containerName -> condition. Order is lost (it means nothing to ECS) and a diff
/// reads `environment.LOG_LEVEL`. A missing value is `""`. A list with a duplicate or missing
/// name is left as it is.
pub(crate) fn key_pair_lists(value: &mut Value) {
    visit_fields(value, &mut |field, child| {
        if let Some((_, key, val)) = PAIR_LISTS.iter().find(|(name, _, _)| *name == field)
            && let Value::Array(items) = child
            && let Some(map) = paired(items, key, val)
        {
            *child = Value::Object(map);
        }
    });
}

fn paired(items: &[Value], key: &str, val: &str) -> Option<Map<String, Value>> {
    let mut map = Map::new();
    for item in items {
        let name = item.get(key)?.as_str()?;
        let value = item
            .get(val)
            .cloned()
            .unwrap_or_else(|| Value::String(String::new()));
        if map.insert(name.to_string(), value).is_some() {
            return None;
        }
    }
    Some(map)
}

/// Rule: object keys sorted, at every depth, so equal values print the same and sorting by
/// printed form (see [`sort_sets`]) is well defined.
pub(crate) fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, mut child) in entries {
                sort_keys(&mut child);
                map.insert(key, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Rule: lists that are sets (subnets, security groups, `requiresCompatibilities`, load
/// balancers, mount points, placement constraints, ...; see [`SET_LISTS`]) are sorted by their
/// printed form; `portMappings` by container port, then protocol; `capabilities.add`/`drop`
/// and a device's `permissions` as sets of strings. Needs [`sort_keys`] first.
pub(crate) fn sort_sets(value: &mut Value) {
    visit_fields(value, &mut |field, child| {
        if field == container::PORT_MAPPINGS {
            sort_port_mappings(child);
        } else if SET_LISTS.contains(&field) {
            sort_list(child);
        } else if field == linux_parameters::CAPABILITIES
            && let Value::Object(caps) = child
        {
            caps.get_mut(capabilities::ADD).map(sort_list);
            caps.get_mut(capabilities::DROP).map(sort_list);
        }
        if field == linux_parameters::DEVICES
            && let Value::Array(devices) = child
        {
            for entry in devices {
                entry.get_mut(device::PERMISSIONS).map(sort_list);
            }
        }
    });
}

/// Sorts a list by each element's printed form (keys already sorted).
pub(crate) fn sort_list(value: &mut Value) {
    if let Value::Array(items) = value {
        items.sort_by_cached_key(Value::to_string);
        items.dedup();
    }
}

fn sort_port_mappings(value: &mut Value) {
    if let Value::Array(items) = value {
        items.sort_by_cached_key(|m| {
            (
                m.get(port_mapping::CONTAINER_PORT)
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX),
                m.get(port_mapping::PROTOCOL)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                m.to_string(),
            )
        });
    }
}

/// The elements of a list, or the entries of a keyed map (a list already keyed).
pub(crate) fn items_mut(value: &mut Value) -> Vec<&mut Value> {
    match value {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(map) => map.values_mut().collect(),
        _ => Vec::new(),
    }
}

/// The elements of a list, or the entries of a keyed map.
pub(crate) fn items(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => map.values().collect(),
        _ => Vec::new(),
    }
}

/// Sets `field` to `default` when it is absent.
pub(crate) fn fill(object: &mut Map<String, Value>, field: &str, default: Value) {
    if !object.contains_key(field) {
        object.insert(field.to_string(), default);
    }
}

/// Removes `field` when it equals `default` (a default written out is the same as absent).
pub(crate) fn drop_if(object: &mut Map<String, Value>, field: &str, default: &Value) {
    if object.get(field) == Some(default) {
        object.remove(field);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn drop_empty_removes_null_empty_string_list_and_map_recursively() {
        let mut value = json!({
            "a": null, "b": "", "c": [], "d": {}, "e": {"f": null, "g": []},
            "keep": 0, "flag": false,
            "command": ["sh", "-c", ""],
        });
        drop_empty(&mut value);
        assert_eq!(
            value,
            json!({"keep": 0, "flag": false, "command": ["sh", "-c", ""]})
        );
    }

    #[test]
    fn drop_empty_keeps_empty_strings_in_data_maps() {
        let mut value = json!({
            "environment": {"EMPTY": "", "GONE": null},
            "dockerLabels": {"team": ""},
            "logConfiguration": {"options": {}},
        });
        drop_empty(&mut value);
        assert_eq!(
            value,
            json!({"environment": {"EMPTY": ""}, "dockerLabels": {"team": ""}})
        );
    }

    #[test]
    fn drop_empty_treats_keyed_map_entries_as_objects_whatever_their_name() {
        // A container named `options` is not a data map.
        let mut value =
            json!({"containerDefinitions": {"options": {"name": "options", "user": ""}}});
        drop_empty(&mut value);
        assert_eq!(
            value,
            json!({"containerDefinitions": {"options": {"name": "options"}}})
        );
    }

    #[test]
    fn key_named_lists_keys_containers_volumes_and_ulimits_by_name() {
        let mut value = json!({
            "containerDefinitions": [
                {"name": "web", "ulimits": [{"name": "nofile", "softLimit": 1}]},
                {"name": "sidecar"},
            ],
            "volumes": [{"name": "data"}],
        });
        key_named_lists(&mut value);
        assert_eq!(
            value,
            json!({
                "containerDefinitions": {
                    "web": {"name": "web", "ulimits": {"nofile": {"name": "nofile", "softLimit": 1}}},
                    "sidecar": {"name": "sidecar"},
                },
                "volumes": {"data": {"name": "data"}},
            })
        );
        let again = value.clone();
        key_named_lists(&mut value);
        assert_eq!(value, again, "keying a keyed map is a no-op");
    }

    #[test]
    fn key_named_lists_leaves_lists_with_duplicate_or_missing_names() {
        let mut value =
            json!({"volumes": [{"name": "a"}, {"name": "a"}], "ulimits": [{"softLimit": 1}]});
        let before = value.clone();
        key_named_lists(&mut value);
        assert_eq!(value, before);
    }

    #[test]
    fn key_pair_lists_turns_name_value_lists_into_maps() {
        let mut value = json!({
            "containerDefinitions": [{
                "name": "web",
                "environment": [{"name": "B", "value": "2"}, {"name": "A"}],
                "secrets": [{"name": "DB", "valueFrom": "arn:db"}],
                "logConfiguration": {"secretOptions": [{"name": "apikey", "valueFrom": "arn:key"}]},
                "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
                "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
            }],
            "tags": [{"key": "team", "value": "web"}],
        });
        key_pair_lists(&mut value);
        assert_eq!(
            value,
            json!({
                "containerDefinitions": [{
                    "name": "web",
                    "environment": {"A": "", "B": "2"},
                    "secrets": {"DB": "arn:db"},
                    "logConfiguration": {"secretOptions": {"apikey": "arn:key"}},
                    "dependsOn": {"init": "SUCCESS"},
                    "systemControls": {"net.core.somaxconn": "1024"},
                }],
                "tags": {"team": "web"},
            })
        );
    }

    #[test]
    fn key_pair_lists_leaves_duplicate_names_as_a_list() {
        let mut value =
            json!({"environment": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]});
        let before = value.clone();
        key_pair_lists(&mut value);
        assert_eq!(value, before);
    }

    #[test]
    fn sort_keys_orders_keys_at_every_depth() {
        let mut value = json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": 0}});
        sort_keys(&mut value);
        assert_eq!(
            value.to_string(),
            r#"{"a":{"c":0,"d":[{"y":2,"z":1}]},"b":1}"#
        );
    }

    #[test]
    fn sort_sets_sorts_sets_and_keeps_ordered_lists() {
        let mut value = json!({
            "subnets": ["subnet-b", "subnet-a"],
            "securityGroups": ["sg-2", "sg-1"],
            "requiresCompatibilities": ["FARGATE", "EC2"],
            "command": ["b", "a"],
            "entryPoint": ["sh", "-c"],
            "dnsServers": ["10.0.0.2", "10.0.0.1"],
            "linuxParameters": {"capabilities": {"add": ["SYS_PTRACE", "NET_ADMIN"]}},
            "portMappings": [
                {"containerPort": 8080, "protocol": "udp"},
                {"containerPort": 8080, "protocol": "tcp"},
                {"containerPort": 443, "protocol": "tcp"},
            ],
        });
        sort_sets(&mut value);
        assert_eq!(
            value,
            json!({
                "subnets": ["subnet-a", "subnet-b"],
                "securityGroups": ["sg-1", "sg-2"],
                "requiresCompatibilities": ["EC2", "FARGATE"],
                "command": ["b", "a"],
                "entryPoint": ["sh", "-c"],
                "dnsServers": ["10.0.0.2", "10.0.0.1"],
                "linuxParameters": {"capabilities": {"add": ["NET_ADMIN", "SYS_PTRACE"]}},
                "portMappings": [
                    {"containerPort": 443, "protocol": "tcp"},
                    {"containerPort": 8080, "protocol": "tcp"},
                    {"containerPort": 8080, "protocol": "udp"},
                ],
            })
        );
    }

    #[test]
    fn fill_and_drop_if() {
        let mut object = Map::new();
        fill(&mut object, "essential", json!(true));
        fill(&mut object, "essential", json!(false));
        assert_eq!(object.get("essential"), Some(&json!(true)));
        drop_if(&mut object, "essential", &json!(false));
        assert!(object.contains_key("essential"));
        drop_if(&mut object, "essential", &json!(true));
        assert!(object.is_empty());
    }
}
