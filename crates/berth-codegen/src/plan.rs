//! What to generate: berth's two roots, the shapes reachable from them, and berth's overrides.
//!
//! The result is a language-neutral plan (names, types, docs as HTML) that `render` writes out.

use std::collections::{BTreeMap, BTreeSet};

use crate::Error;
use crate::botocore::{ServiceModel, Shape, Structure};
use crate::{fields, names};

/// A botocore input shape that berth embeds in manifests, and how berth departs from it.
struct Root {
    /// The botocore shape.
    shape: &'static str,
    /// The Rust struct it becomes.
    rust_name: &'static str,
    /// Doc paragraph describing berth's use of it (Markdown).
    doc: &'static str,
    /// Members left out (berth sets them from elsewhere).
    drop: &'static [&'static str],
    /// Members that are `Option` although botocore marks them required.
    optional: &'static [OptionalOverride],
    /// Members whose Rust type berth replaces, with a doc note (Markdown) replacing or adding to
    /// the model's documentation.
    types: &'static [TypeOverride],
}

/// A member that is `Option` although botocore marks it required.
struct OptionalOverride {
    /// The member name.
    member: &'static str,
    /// Doc note (Markdown) saying why.
    note: &'static str,
    /// Whether berth's validation still requires it (the manifest reference then shows it as
    /// required).
    validated: bool,
}

/// A member whose type berth chooses instead of the model's.
struct TypeOverride {
    /// The member name.
    member: &'static str,
    /// The Rust type (without `Option`).
    rust_type: &'static str,
    /// Doc note (Markdown).
    note: &'static str,
    /// Whether the note replaces the model's documentation (the meaning changed) or follows it.
    replaces_doc: bool,
    /// How the manifest reference names the type (Markdown), when it is not a model type.
    shown: Option<&'static str>,
}

/// The roots, in output order.
const ROOTS: &[Root] = &[
    Root {
        shape: "CreateServiceRequest",
        rust_name: "ServiceSpec",
        doc: "A service as a berth manifest's `spec` writes it: the input of ECS `CreateService` \
              (botocore shape `CreateServiceRequest`) without `cluster`, `serviceName` and \
              `clientToken`, which berth takes from the manifest's `metadata` or sets itself, \
              and with the task definition written inline under `taskDefinition`.",
        drop: &["cluster", "serviceName", "clientToken"],
        optional: &[],
        types: &[TypeOverride {
            member: "taskDefinition",
            rust_type: "TaskDefinitionSpec",
            note: "The task definition to run, written inline (the input of ECS \
                   `RegisterTaskDefinition`). berth registers it and points the service at the \
                   new revision; the ECS API itself takes a `family:revision` or ARN here.",
            replaces_doc: true,
            shown: None,
        }],
    },
    Root {
        shape: "RegisterTaskDefinitionRequest",
        rust_name: "TaskDefinitionSpec",
        doc: "A task definition as a berth manifest writes it under `spec.taskDefinition`: the \
              input of ECS `RegisterTaskDefinition` (botocore shape \
              `RegisterTaskDefinitionRequest`), with `family` optional and task-level `cpu` and \
              `memory` parsed into numbers.",
        drop: &[],
        optional: &[
            OptionalOverride {
                member: "family",
                note: "Optional in berth: it defaults to the service name (`metadata.name`).",
                validated: false,
            },
            OptionalOverride {
                member: "containerDefinitions",
                note: "Required by ECS, but `Option` in this model: berth's validation reports a \
                       missing list.",
                validated: true,
            },
        ],
        types: &[
            TypeOverride {
                member: "cpu",
                rust_type: "super::units::TaskCpu",
                note: "berth reads CPU units (`256`, as a number or a string) or vCPUs \
                       (`0.25 vCPU`) and keeps the number of CPU units.",
                replaces_doc: false,
                shown: Some("integer or string: CPU units (`256`) or vCPUs (`0.25 vCPU`)"),
            },
            TypeOverride {
                member: "memory",
                rust_type: "super::units::TaskMemory",
                note: "berth reads MiB (`512`, as a number or a string) or GB (`1 GB`) and keeps \
                       the number of MiB.",
                replaces_doc: false,
                shown: Some("integer or string: MiB (`512`) or GB (`1 GB`)"),
            },
        ],
    },
];

/// The name of the generated enum saying what a field holds (`render` writes it with the table
/// of every struct's fields); no model shape may take it.
pub const FIELD_TYPE: &str = "FieldType";

/// The root whose field tables `fields` derives.
const SERVICE_ROOT: &str = "ServiceSpec";

/// Output shapes whose members, minus those of an input shape, ECS sets itself.
const DESCRIBE_ONLY: &[(&str, &str, &str)] = &[
    (
        "SERVICE_DESCRIBE_ONLY_FIELDS",
        "Service",
        "CreateServiceRequest",
    ),
    (
        "TASK_DEFINITION_DESCRIBE_ONLY_FIELDS",
        "TaskDefinition",
        "RegisterTaskDefinitionRequest",
    ),
];

/// Everything the generated file holds.
#[derive(Debug)]
pub struct Plan {
    /// The model's API version (`2014-11-13`).
    pub api_version: String,
    /// String-list constants: the describe-only fields.
    pub constants: Vec<Constant>,
    /// String-list constants: field tables derived from the shapes (see `fields`).
    pub field_tables: Vec<Constant>,
    /// Structs: the roots first, then the rest by Rust name.
    pub structs: Vec<StructDef>,
    /// Enums by Rust name.
    pub enums: Vec<EnumDef>,
}

/// A `pub const NAME: &[&str]`.
#[derive(Debug)]
pub struct Constant {
    /// The constant's name.
    pub name: String,
    /// The input shape (a root's) whose members it leaves out (a describe-only list) or lists
    /// (a field table).
    pub input_shape: String,
    /// Its doc (Markdown).
    pub doc: String,
    /// The strings, sorted.
    pub values: Vec<String>,
}

/// Documentation: botocore HTML and/or berth's own Markdown notes.
#[derive(Debug, Default)]
pub struct Doc {
    /// Markdown paragraphs before the model's documentation.
    pub before: Vec<String>,
    /// The model's HTML documentation, if kept.
    pub html: Option<String>,
    /// Markdown paragraphs after the model's documentation.
    pub after: Vec<String>,
    /// Markdown paragraph used only if the others give no text.
    pub fallback: String,
}

/// A struct from a structure shape.
#[derive(Debug)]
pub struct StructDef {
    /// Rust name.
    pub name: String,
    /// The AWS model shape it comes from.
    pub shape: String,
    /// Whether the shape is a union (exactly one member set).
    pub union: bool,
    /// Its docs.
    pub doc: Doc,
    /// Fields in model order.
    pub fields: Vec<FieldDef>,
}

/// A struct field from a member.
#[derive(Debug)]
pub struct FieldDef {
    /// Rust name (snake_case, maybe raw).
    pub name: String,
    /// The member name on the wire.
    pub wire_name: String,
    /// The Rust type, without `Option`.
    pub rust_type: String,
    /// What the field holds on the wire.
    pub wire: Wire,
    /// Whether the field is `Option`.
    pub optional: bool,
    /// Whether the type is a generated enum (an empty string then reads as unset).
    pub is_enum: bool,
    /// Whether berth's validation requires the field although it is `Option`.
    pub validated: bool,
    /// Whether AWS marked the member deprecated.
    pub deprecated: bool,
    /// How the manifest reference names the type (Markdown), when berth overrides it with a
    /// type that is not a model type.
    pub shown_type: Option<String>,
    /// Its docs.
    pub doc: Doc,
}

/// An enum from a string shape with an `enum` list.
#[derive(Debug)]
pub struct EnumDef {
    /// Rust name.
    pub name: String,
    /// The AWS model shape it comes from.
    pub shape: String,
    /// Its docs.
    pub doc: Doc,
    /// Variants in model order: (Rust name, wire value).
    pub variants: Vec<(String, String)>,
}

/// What a field holds on the wire, in the terms code that walks the model's JSON needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// A string, number, boolean, enum value or timestamp (berth's unit types included).
    Scalar,
    /// An object: the generated struct of that Rust name.
    Struct(String),
    /// A list of the element.
    List(Box<Wire>),
    /// A map from strings to the value.
    Map(Box<Wire>),
    /// Free-form JSON (a botocore `document`).
    Document,
}

/// The Rust type of a member's shape.
struct Resolved {
    /// The Rust type.
    rust_type: String,
    /// Whether it is a generated enum.
    is_enum: bool,
    /// What it holds on the wire.
    wire: Wire,
}

/// Builds the plan from the model.
pub fn plan(model: &ServiceModel) -> Result<Plan, Error> {
    let mut planner = Planner {
        model,
        pending: Vec::new(),
        reached: BTreeSet::new(),
    };
    let mut roots = Vec::new();
    for root in ROOTS {
        roots.push(planner.root(root)?);
    }
    let mut structs = BTreeMap::new();
    let mut enums = BTreeMap::new();
    while let Some(shape_name) = planner.pending.pop() {
        match model.shape(&shape_name)? {
            Shape::Structure(structure) => {
                let def = planner.structure(&shape_name, structure)?;
                insert_unique(&mut structs, def.name.clone(), &shape_name, def)?;
            }
            Shape::String {
                values: Some(values),
                documentation,
            } => {
                let def = enum_def(&shape_name, values, documentation.as_deref())?;
                insert_unique(&mut enums, def.name.clone(), &shape_name, def)?;
            }
            _ => {}
        }
    }
    for root in &roots {
        if structs.contains_key(&root.name) || enums.contains_key(&root.name) {
            return Err(Error::Clash(format!(
                "`{}` is both a root and a model shape",
                root.name
            )));
        }
    }
    if structs.contains_key(FIELD_TYPE) || enums.contains_key(FIELD_TYPE) {
        return Err(Error::Clash(format!(
            "`{FIELD_TYPE}` is both berth's field table type and a model shape"
        )));
    }
    let structs: Vec<StructDef> = roots
        .into_iter()
        .chain(structs.into_iter().map(|(_, (_, def))| def))
        .collect();
    check_not_recursive(&structs)?;

    let mut constants = Vec::new();
    for (name, output, input) in DESCRIBE_ONLY {
        constants.push(describe_only(model, name, output, input)?);
    }
    let Some(service) = structs.iter().find(|def| def.name == SERVICE_ROOT) else {
        return Err(Error::MissingShape(SERVICE_ROOT.to_string()));
    };
    let field_tables = fields::service_tables(model, service)?;
    Ok(Plan {
        api_version: model.metadata.api_version.clone(),
        constants,
        field_tables,
        structs,
        enums: enums.into_values().map(|(_, def)| def).collect(),
    })
}

/// Inserts a definition under its Rust name, failing if two shapes map to the same name.
fn insert_unique<T>(
    map: &mut BTreeMap<String, (String, T)>,
    rust_name: String,
    shape_name: &str,
    def: T,
) -> Result<(), Error> {
    if let Some((other, _)) = map.get(&rust_name) {
        return Err(Error::Clash(format!(
            "shapes `{other}` and `{shape_name}` both become `{rust_name}`"
        )));
    }
    map.insert(rust_name, (shape_name.to_string(), def));
    Ok(())
}

/// Walks shapes from the roots.
struct Planner<'a> {
    /// The model.
    model: &'a ServiceModel,
    /// Structure and enum shapes reached but not yet planned.
    pending: Vec<String>,
    /// Every shape reached so far.
    reached: BTreeSet<String>,
}

impl Planner<'_> {
    /// Plans a root struct with berth's overrides.
    fn root(&mut self, root: &Root) -> Result<StructDef, Error> {
        let structure = self.model.structure(root.shape)?;
        let known = |member: &str| {
            if structure.has_member(member) {
                Ok(())
            } else {
                Err(Error::MissingShape(format!("{}.{member}", root.shape)))
            }
        };
        for member in root.drop {
            known(member)?;
        }
        for optional in root.optional {
            known(optional.member)?;
        }
        for type_override in root.types {
            known(type_override.member)?;
        }

        let mut fields = Vec::new();
        for (wire_name, member) in &structure.members {
            if root.drop.contains(&wire_name.as_str()) {
                continue;
            }
            let type_override = root.types.iter().find(|o| o.member == wire_name.as_str());
            let optional_override = root
                .optional
                .iter()
                .find(|o| o.member == wire_name.as_str());
            let mut doc = member_doc(wire_name, member.documentation.as_deref());
            doc.after
                .extend(optional_override.map(|o| o.note.to_string()));
            let resolved = match type_override {
                Some(type_override) => {
                    if type_override.replaces_doc {
                        doc.html = None;
                    }
                    doc.after.push(type_override.note.to_string());
                    Resolved {
                        rust_type: type_override.rust_type.to_string(),
                        is_enum: false,
                        wire: override_wire(type_override.rust_type),
                    }
                }
                None => self.resolve(&member.shape)?,
            };
            let optional = optional_override.is_some()
                || type_override.is_some()
                || !structure.is_required(wire_name);
            fields.push(FieldDef {
                name: names::field_name(wire_name).map_err(Error::Name)?,
                wire_name: wire_name.clone(),
                rust_type: resolved.rust_type,
                wire: resolved.wire,
                optional,
                is_enum: resolved.is_enum,
                validated: optional_override.is_some_and(|o| o.validated),
                deprecated: member.deprecated,
                shown_type: type_override.and_then(|o| o.shown).map(str::to_string),
                doc,
            });
        }
        check_unique_fields(root.rust_name, &fields)?;
        Ok(StructDef {
            name: root.rust_name.to_string(),
            shape: root.shape.to_string(),
            union: structure.union,
            doc: Doc {
                before: vec![root.doc.to_string()],
                html: structure.documentation.clone(),
                after: Vec::new(),
                fallback: String::new(),
            },
            fields,
        })
    }

    /// Plans a struct for a reachable structure shape.
    fn structure(&mut self, shape_name: &str, structure: &Structure) -> Result<StructDef, Error> {
        let name = names::type_name(shape_name);
        let mut fields = Vec::new();
        for (wire_name, member) in &structure.members {
            let resolved = self.resolve(&member.shape)?;
            fields.push(FieldDef {
                name: names::field_name(wire_name).map_err(Error::Name)?,
                wire_name: wire_name.clone(),
                rust_type: resolved.rust_type,
                wire: resolved.wire,
                optional: !structure.is_required(wire_name),
                is_enum: resolved.is_enum,
                validated: false,
                deprecated: member.deprecated,
                shown_type: None,
                doc: member_doc(wire_name, member.documentation.as_deref()),
            });
        }
        check_unique_fields(&name, &fields)?;
        let mut doc = Doc {
            html: structure.documentation.clone(),
            fallback: format!("The ECS `{shape_name}` object."),
            ..Doc::default()
        };
        if name != shape_name {
            doc.after.push(format!("AWS model shape `{shape_name}`."));
        }
        if structure.union {
            doc.after
                .push("A union in the AWS model: set exactly one field.".to_string());
        }
        Ok(StructDef {
            name,
            shape: shape_name.to_string(),
            union: structure.union,
            doc,
            fields,
        })
    }

    /// The Rust type of a shape; queues the structures and enums it uses.
    fn resolve(&mut self, shape_name: &str) -> Result<Resolved, Error> {
        let plain = |rust_type: &str, wire: Wire| Resolved {
            rust_type: rust_type.to_string(),
            is_enum: false,
            wire,
        };
        let scalar = |rust_type: &str| plain(rust_type, Wire::Scalar);
        let resolved = match self.model.shape(shape_name)? {
            Shape::Structure(structure) if structure.document => {
                plain("serde_json::Value", Wire::Document)
            }
            Shape::Structure(_) => {
                self.reach(shape_name);
                let name = names::type_name(shape_name);
                plain(&name, Wire::Struct(name.clone()))
            }
            Shape::String {
                values: Some(_), ..
            } => {
                self.reach(shape_name);
                Resolved {
                    rust_type: names::type_name(shape_name),
                    is_enum: true,
                    wire: Wire::Scalar,
                }
            }
            Shape::String { values: None, .. } | Shape::Timestamp | Shape::Blob => scalar("String"),
            Shape::Integer(_) => scalar("i32"),
            Shape::Long(_) => scalar("i64"),
            Shape::Boolean(_) => scalar("bool"),
            Shape::Double(_) | Shape::Float(_) => scalar("f64"),
            Shape::List { member, .. } => {
                let element = self.resolve(&member.shape)?;
                plain(
                    &format!("Vec<{}>", element.rust_type),
                    Wire::List(Box::new(element.wire)),
                )
            }
            Shape::Map { key, value } => {
                let key = self.resolve(&key.shape)?;
                let value = self.resolve(&value.shape)?;
                plain(
                    &format!(
                        "std::collections::BTreeMap<{}, {}>",
                        key.rust_type, value.rust_type
                    ),
                    Wire::Map(Box::new(value.wire)),
                )
            }
        };
        Ok(resolved)
    }

    /// Queues a structure or enum shape the first time it is reached.
    fn reach(&mut self, shape_name: &str) {
        if self.reached.insert(shape_name.to_string()) {
            self.pending.push(shape_name.to_string());
        }
    }
}

/// What a member whose type berth overrides holds: another root's struct (the task definition
/// written inline) or one of berth's unit types, which read and write a scalar.
fn override_wire(rust_type: &str) -> Wire {
    if ROOTS.iter().any(|root| root.rust_name == rust_type) {
        Wire::Struct(rust_type.to_string())
    } else {
        Wire::Scalar
    }
}

/// Docs for a member: the model's HTML, or a fallback naming it.
fn member_doc(wire_name: &str, html: Option<&str>) -> Doc {
    Doc {
        html: html.map(str::to_string),
        fallback: format!("`{wire_name}` (not documented in the AWS model)."),
        ..Doc::default()
    }
}

/// Plans an enum for a string shape with an `enum` list.
fn enum_def(shape_name: &str, values: &[String], html: Option<&str>) -> Result<EnumDef, Error> {
    let name = names::type_name(shape_name);
    let mut variants: Vec<(String, String)> = Vec::new();
    for value in values {
        let variant = names::variant_name(value).map_err(Error::Name)?;
        if let Some((_, other)) = variants.iter().find(|(existing, _)| *existing == variant) {
            return Err(Error::Clash(format!(
                "`{shape_name}` values `{other}` and `{value}` both become variant `{variant}`"
            )));
        }
        variants.push((variant, value.clone()));
    }
    let mut doc = Doc {
        html: html.map(str::to_string),
        fallback: format!("The values ECS accepts for `{shape_name}`."),
        ..Doc::default()
    };
    if name != shape_name {
        doc.after.push(format!("AWS model shape `{shape_name}`."));
    }
    Ok(EnumDef {
        name,
        shape: shape_name.to_string(),
        doc,
        variants,
    })
}

/// Fails if two members of one struct map to the same Rust field name.
fn check_unique_fields(struct_name: &str, fields: &[FieldDef]) -> Result<(), Error> {
    let mut seen = BTreeMap::new();
    for field in fields {
        if let Some(other) = seen.insert(field.name.as_str(), field.wire_name.as_str()) {
            return Err(Error::Clash(format!(
                "`{struct_name}` members `{other}` and `{}` both become field `{}`",
                field.wire_name, field.name
            )));
        }
    }
    Ok(())
}

/// Fails if a struct contains itself by value (it would need a `Box`; the ECS model has none).
fn check_not_recursive(structs: &[StructDef]) -> Result<(), Error> {
    let by_name: BTreeMap<&str, &StructDef> =
        structs.iter().map(|def| (def.name.as_str(), def)).collect();
    for start in structs {
        let mut stack = vec![start.name.as_str()];
        let mut seen = BTreeSet::new();
        while let Some(name) = stack.pop() {
            let Some(def) = by_name.get(name) else {
                continue;
            };
            for field in &def.fields {
                let inner = field.rust_type.as_str();
                if inner == start.name {
                    return Err(Error::Recursive(start.name.clone()));
                }
                if seen.insert(inner) {
                    stack.push(inner);
                }
            }
        }
    }
    Ok(())
}

/// The sorted members of `output` that are not members of `input`.
fn describe_only(
    model: &ServiceModel,
    name: &str,
    output: &str,
    input: &str,
) -> Result<Constant, Error> {
    let output_shape = model.structure(output)?;
    let input_shape = model.structure(input)?;
    let values: BTreeSet<String> = output_shape
        .members
        .iter()
        .map(|(member, _)| member.clone())
        .filter(|member| !input_shape.has_member(member))
        .collect();
    Ok(Constant {
        name: name.to_string(),
        input_shape: input.to_string(),
        doc: format!(
            "Members of the ECS `{output}` output shape that are not members of `{input}`: ECS \
             sets them, so they appear in describe output but are not part of a manifest. Sorted."
        ),
        values: values.into_iter().collect(),
    })
}
