//! Field tables derived from the shapes: which `ServiceSpec` fields are lists and which are
//! objects of plain fields, facts berth-engine's `UpdateService` input builder relies on. They
//! are generated so that they follow the model when AWS adds a member.
//!
//! They are read off botocore's `CreateServiceRequest` (not the plan's `ServiceSpec`), for the
//! members `ServiceSpec` keeps: there `taskDefinition` is what `UpdateService` takes, a string,
//! not the inline task definition berth's model puts in its place.

use std::collections::BTreeSet;

use crate::Error;
use crate::botocore::{ServiceModel, Shape};
use crate::plan::{Constant, StructDef};

/// The name of the table of list fields.
const LIST_FIELDS: &str = "SERVICE_LIST_FIELDS";

/// The name of the table of plain object fields.
const PLAIN_OBJECT_FIELDS: &str = "SERVICE_PLAIN_OBJECT_FIELDS";

/// The tables for the service root `spec` (whose `shape` is `CreateServiceRequest`).
pub fn service_tables(model: &ServiceModel, spec: &StructDef) -> Result<Vec<Constant>, Error> {
    let input = model.structure(&spec.shape)?;
    let mut lists = BTreeSet::new();
    let mut plain_objects = BTreeSet::new();
    for field in &spec.fields {
        let Some((_, member)) = input
            .members
            .iter()
            .find(|(name, _)| *name == field.wire_name)
        else {
            return Err(Error::MissingShape(format!(
                "{}.{}",
                spec.shape, field.wire_name
            )));
        };
        match model.shape(&member.shape)? {
            Shape::List { .. } => {
                lists.insert(field.wire_name.clone());
            }
            Shape::Structure(_) if is_plain(model, &member.shape, &mut Vec::new())? => {
                plain_objects.insert(field.wire_name.clone());
            }
            _ => {}
        }
    }
    let shape = &spec.shape;
    let name = &spec.name;
    Ok(vec![
        Constant {
            name: LIST_FIELDS.to_string(),
            input_shape: shape.clone(),
            doc: format!(
                "The `{name}` fields whose type is a list: the members of the ECS `{shape}` \
                 shape that `{name}` keeps and whose shape is a `list`. Sorted."
            ),
            values: lists.into_iter().collect(),
        },
        Constant {
            name: PLAIN_OBJECT_FIELDS.to_string(),
            input_shape: shape.clone(),
            doc: format!(
                "The `{name}` fields that are objects of plain fields all the way down: the \
                 members of the ECS `{shape}` shape that `{name}` keeps whose shape is a \
                 `structure` whose members are, recursively through structures, scalars, \
                 lists or such structures, never a map or a free-form document (their keys are \
                 data, not fields). Lists are not looked into: berth compares a list whole, so \
                 a field path into one of these objects that ends at a scalar names fields \
                 only (berth-core's `tests/normalize_fields.rs` checks that normalization keys \
                 no list inside them). Sorted."
            ),
            values: plain_objects.into_iter().collect(),
        },
    ])
}

/// Whether the structure `shape_name` holds only scalars, lists and plain structures (lists are
/// not entered: they end a field path). `path` is the structures being walked, so a shape
/// that contained itself (which `plan` already rejects) would not loop.
fn is_plain(model: &ServiceModel, shape_name: &str, path: &mut Vec<String>) -> Result<bool, Error> {
    if path.iter().any(|seen| seen == shape_name) {
        return Err(Error::Recursive(shape_name.to_string()));
    }
    path.push(shape_name.to_string());
    let structure = model.structure(shape_name)?;
    let mut plain = !structure.document;
    for (_, member) in &structure.members {
        let member_plain = match model.shape(&member.shape)? {
            Shape::Structure(_) => is_plain(model, &member.shape, path)?,
            Shape::Map { .. } => false,
            _ => true,
        };
        if !member_plain {
            plain = false;
            break;
        }
    }
    path.pop();
    Ok(plain)
}
