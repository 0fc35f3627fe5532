//! Every field name normalization uses (`normalize::fields`) exists in the generated model
//! (`model::ecs::STRUCT_FIELDS`), where the rules expect it: a misspelled or renamed field would
//! otherwise make its rule silently match nothing. Also checks the fact berth-engine's
//! `UpdateService` input builder relies on: no list inside a `SERVICE_PLAIN_OBJECT_FIELDS`
//! object is keyed by normalization.

use berth_core::model::ecs::{
    FieldType, SERVICE_LIST_FIELDS, SERVICE_PLAIN_OBJECT_FIELDS, STRUCT_FIELDS, struct_fields,
};
use berth_core::normalize::fields::{
    DATA_MAPS, KEYED_LISTS, OBJECTS, Object, PAIR_LISTS, SET_LISTS,
};

/// The struct a field of type `field_type` leads to: an object's, or a list element's.
fn struct_of(field_type: FieldType) -> Option<&'static str> {
    match field_type {
        FieldType::Struct(name) => Some(name),
        FieldType::List(FieldType::Struct(name)) => Some(name),
        _ => None,
    }
}

/// The type of `field` in the generated struct `struct_name`.
fn field_type(struct_name: &str, field: &str) -> Option<FieldType> {
    struct_fields(struct_name)?
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, field_type)| *field_type)
}

/// The struct `object.path` leads to from `object.root`, or why it leads nowhere.
fn resolve(object: &Object) -> Result<&'static str, String> {
    let mut current = STRUCT_FIELDS
        .iter()
        .find(|(name, _)| *name == object.root)
        .map(|(name, _)| *name)
        .ok_or_else(|| format!("no generated struct `{}`", object.root))?;
    for segment in object.path {
        let field_type = field_type(current, segment)
            .ok_or_else(|| format!("`{current}` has no field `{segment}`"))?;
        current = struct_of(field_type)
            .ok_or_else(|| format!("`{current}.{segment}` is not an object or list of objects"))?;
    }
    Ok(current)
}

/// Every field named `field` anywhere in the model: (struct, type).
fn occurrences(field: &str) -> Vec<(&'static str, FieldType)> {
    STRUCT_FIELDS
        .iter()
        .flat_map(|(struct_name, fields)| {
            fields
                .iter()
                .filter(move |(name, _)| *name == field)
                .map(move |(_, field_type)| (*struct_name, *field_type))
        })
        .collect()
}

#[test]
fn every_field_the_rules_name_is_a_model_field_at_its_path() {
    let mut errors = Vec::new();
    for object in OBJECTS {
        let at = [object.root]
            .iter()
            .chain(object.path)
            .copied()
            .collect::<Vec<_>>()
            .join(".");
        match resolve(object) {
            Err(error) => errors.push(format!("{at}: {error}")),
            Ok(struct_name) => {
                for field in object.fields {
                    if field_type(struct_name, field).is_none() {
                        errors.push(format!("{at}: `{struct_name}` has no field `{field}`"));
                    }
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Checks that `field` occurs in the model and that every occurrence passes `expected`.
fn check_everywhere(
    table: &str,
    field: &str,
    errors: &mut Vec<String>,
    expected: impl Fn(FieldType) -> Result<(), String>,
) {
    let found = occurrences(field);
    if found.is_empty() {
        errors.push(format!("{table}: no struct has a field `{field}`"));
    }
    for (struct_name, field_type) in found {
        if let Err(error) = expected(field_type) {
            errors.push(format!("{table}: `{struct_name}.{field}` {error}"));
        }
    }
}

/// A list of objects that have every one of `members`.
fn list_of_objects_with(list: FieldType, members: &[&str]) -> Result<(), String> {
    let FieldType::List(FieldType::Struct(element)) = list else {
        return Err(format!("is {list:?}, not a list of objects"));
    };
    for member in members {
        if field_type(element, member).is_none() {
            return Err(format!(
                "is a list of `{element}`, which has no field `{member}`"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_field_the_generic_rules_name_is_in_the_model_with_the_shape_they_expect() {
    let mut errors = Vec::new();
    for (field, key) in KEYED_LISTS {
        check_everywhere("KEYED_LISTS", field, &mut errors, |t| {
            list_of_objects_with(t, &[*key])
        });
    }
    for (field, key, value) in PAIR_LISTS {
        check_everywhere("PAIR_LISTS", field, &mut errors, |t| {
            list_of_objects_with(t, &[*key, *value])
        });
    }
    for field in SET_LISTS {
        check_everywhere("SET_LISTS", field, &mut errors, |t| match t {
            FieldType::List(_) => Ok(()),
            other => Err(format!("is {other:?}, not a list")),
        });
    }
    // A data map is a map in the model, or a list of pairs that `PAIR_LISTS` turns into one.
    for field in DATA_MAPS {
        let paired = PAIR_LISTS.iter().any(|(name, _, _)| name == field);
        check_everywhere("DATA_MAPS", field, &mut errors, |t| match t {
            FieldType::Map(_) => Ok(()),
            FieldType::List(_) if paired => Ok(()),
            other => Err(format!("is {other:?}, not a map or a list in PAIR_LISTS")),
        });
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Whether normalization turns the field into a map (its paths then go through names).
fn keyed_by_normalization(field: &str) -> bool {
    KEYED_LISTS.iter().any(|(name, _)| *name == field)
        || PAIR_LISTS.iter().any(|(name, _, _)| *name == field)
        || DATA_MAPS.contains(&field)
}

/// Fields under `struct_name`, through objects but not lists, that normalization keys.
fn keyed_under(struct_name: &str, at: &str, found: &mut Vec<String>) {
    for (field, field_type) in struct_fields(struct_name).unwrap_or_default() {
        let path = format!("{at}.{field}");
        if keyed_by_normalization(field) {
            found.push(path.clone());
        }
        if let FieldType::Struct(inner) = field_type {
            keyed_under(inner, &path, found);
        }
    }
}

#[test]
fn the_service_field_tables_match_the_model_and_normalization() {
    for field in SERVICE_LIST_FIELDS {
        assert!(
            matches!(field_type("ServiceSpec", field), Some(FieldType::List(_))),
            "SERVICE_LIST_FIELDS: `{field}` is not a list field of ServiceSpec"
        );
    }
    let mut keyed = Vec::new();
    for field in SERVICE_PLAIN_OBJECT_FIELDS {
        let Some(FieldType::Struct(inner)) = field_type("ServiceSpec", field) else {
            panic!("SERVICE_PLAIN_OBJECT_FIELDS: `{field}` is not an object field of ServiceSpec");
        };
        keyed_under(inner, field, &mut keyed);
    }
    assert!(
        keyed.is_empty(),
        "normalization keys these fields inside objects berth-engine treats as plain (their \
         change paths would go through names): {keyed:?}"
    );
}
