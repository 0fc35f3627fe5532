//! How berth's model maps onto the Rust AWS SDK (`aws-sdk-ecs`): which SDK type each model type
//! converts to, and how each member is stored on the SDK side.
//!
//! The SDK is generated from the Smithy model that botocore's JSON is also derived from, so
//! botocore tells almost everything: a member in `required` is a plain value in the SDK (and the
//! type's builder fails without it), a number or boolean without `box` has a zero default and
//! is a plain value too, and everything else is an `Option`. Operation inputs are the exception
//! the SDK makes on purpose: all their members are `Option`. Where the SDK departs from
//! botocore otherwise, [`SDK_OVERRIDES`] says so; the compiler finds any new departure (a
//! `set_x(Some(..))` or `Some(value.x)` of the wrong type).

use std::collections::BTreeSet;

use crate::Error;
use crate::botocore::{ServiceModel, Shape};
use crate::plan::{EnumDef, FieldDef, Plan, StructDef};

/// How the SDK stores one member of one shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr {
    /// `Option<T>`.
    Optional,
    /// A plain `T`; `defaulted` when it has a zero default (the builder does not fail without
    /// it), otherwise the builder's `build()` fails when it is unset.
    Plain {
        /// Whether the SDK fills a default when the member is unset.
        defaulted: bool,
    },
    /// Not a member of the SDK type: the model is newer than the SDK version berth builds
    /// with. Converting a value that sets it is an error; reading gives `None`.
    NotInSdk,
}

/// A member whose SDK representation differs from what botocore's model implies.
struct SdkOverride {
    /// The botocore shape.
    shape: &'static str,
    /// The member.
    member: &'static str,
    /// How the SDK stores it.
    repr: Repr,
    /// Why (a comment in the generated file).
    why: &'static str,
}

/// Where `aws-sdk-ecs` (the version in the workspace `Cargo.toml`) departs from botocore's
/// `required` list and `box` flags, or lacks a member. Each entry was found by a compile error
/// of the generated conversions; a stale entry (a member the model no longer has) fails
/// generation.
const SDK_OVERRIDES: &[SdkOverride] = &[
    SdkOverride {
        shape: "FSxWindowsFileServerVolumeConfiguration",
        member: "authorizationConfig",
        repr: Repr::Optional,
        why: "required in botocore, but an `Option` in the SDK",
    },
    SdkOverride {
        shape: "ServiceConnectTestTrafficRules",
        member: "header",
        repr: Repr::Optional,
        why: "required in botocore, but an `Option` in the SDK",
    },
    SdkOverride {
        shape: "ServiceConnectTlsConfiguration",
        member: "issuerCertificateAuthority",
        repr: Repr::Optional,
        why: "required in botocore, but an `Option` in the SDK",
    },
    SdkOverride {
        shape: "CanaryConfiguration",
        member: "canaryPercent",
        repr: Repr::Optional,
        why: "an unboxed `Double` in botocore, but the SDK has no default for it: `Option`",
    },
    SdkOverride {
        shape: "CanaryConfiguration",
        member: "canaryBakeTimeInMinutes",
        repr: Repr::Optional,
        why: "an unboxed `Integer` in botocore, but the SDK has no default for it: `Option`",
    },
    SdkOverride {
        shape: "LinearConfiguration",
        member: "stepPercent",
        repr: Repr::Optional,
        why: "an unboxed `Double` in botocore, but the SDK has no default for it: `Option`",
    },
    SdkOverride {
        shape: "LinearConfiguration",
        member: "stepBakeTimeInMinutes",
        repr: Repr::Optional,
        why: "an unboxed `Integer` in botocore, but the SDK has no default for it: `Option`",
    },
    SdkOverride {
        shape: "ResourceRequirement",
        member: "value",
        repr: Repr::Plain { defaulted: true },
        why: "optional in botocore, a plain `String` in the SDK that defaults to empty (and is \
              sent empty): an empty value reads as unset",
    },
    SdkOverride {
        shape: "RegisterTaskDefinitionRequest",
        member: "trustedExecutionConfiguration",
        repr: Repr::NotInSdk,
        why: "newer than the SDK: botocore's model has it, `aws-sdk-ecs` does not yet",
    },
    SdkOverride {
        shape: "TaskDefinition",
        member: "trustedExecutionConfiguration",
        repr: Repr::NotInSdk,
        why: "newer than the SDK: botocore's model has it, `aws-sdk-ecs` does not yet",
    },
    SdkOverride {
        shape: "GatewayConnector",
        member: "deregistrationDelay",
        repr: Repr::NotInSdk,
        why: "newer than the SDK: botocore's model has it, `aws-sdk-ecs` does not yet",
    },
];

/// Root members that are not converted at all, with the reason (a comment in the output).
const NOT_CONVERTED: &[(&str, &str, &str)] = &[(
    "CreateServiceRequest",
    "taskDefinition",
    "berth writes the task definition inline; ECS takes the registered revision's ARN, which \
     the caller sets",
)];

/// Members of an output shape that come from elsewhere in the response: (output shape, member,
/// expression).
pub const EXTRA_SOURCES: &[(&str, &str, &str)] = &[(
    "TaskDefinition",
    "tags",
    // `DescribeTaskDefinition` returns the tags next to the task definition.
    "non_empty(from_field(\"tags\", tags)?)",
)];

/// One member of a model struct as seen from one SDK shape.
#[derive(Debug)]
pub struct FieldConv<'a> {
    /// The model field.
    pub field: &'a FieldDef,
    /// How the SDK shape stores it; `None` when the SDK shape has no such member at all (or
    /// the member is not converted).
    pub repr: Option<Repr>,
    /// Why the member is not converted, for members of [`NOT_CONVERTED`].
    pub not_converted: Option<&'static str>,
    /// Why the SDK departs from botocore, for members of [`SDK_OVERRIDES`].
    pub override_note: Option<&'static str>,
}

/// A model struct against one SDK shape.
#[derive(Debug)]
pub struct StructConv<'a> {
    /// The model struct.
    pub def: &'a StructDef,
    /// The SDK shape (botocore name) the fields are matched against.
    pub sdk_shape: String,
    /// Whether the SDK builder's `build()` returns a `Result`.
    pub fallible_build: bool,
    /// The deprecated things the conversion touches (the shape itself, or members that are
    /// deprecated or hold a deprecated shape): the SDK marks them `#[deprecated]`, so the
    /// generated code allows it there, and only there.
    pub deprecated: Vec<String>,
    /// The fields, in model order.
    pub fields: Vec<FieldConv<'a>>,
}

/// Everything the conversions need.
#[derive(Debug)]
pub struct ConvertPlan<'a> {
    /// Structs with an SDK counterpart (roots excluded), by Rust name.
    pub structs: Vec<StructConv<'a>>,
    /// Enums with an SDK counterpart, by Rust name.
    pub enums: Vec<&'a EnumDef>,
    /// The model structs with no SDK counterpart (reachable only through `NotInSdk` members).
    pub without_sdk_type: Vec<String>,
    /// `TaskDefinitionSpec` against `RegisterTaskDefinitionRequest`.
    pub task_definition_input: StructConv<'a>,
    /// `TaskDefinitionSpec` against the `TaskDefinition` output shape.
    pub task_definition_output: StructConv<'a>,
    /// `ServiceSpec` against `CreateServiceRequest`.
    pub service_input: StructConv<'a>,
    /// `ServiceSpec` against `UpdateServiceRequest`.
    pub service_update: StructConv<'a>,
    /// `ServiceSpec` against the `Service` output shape.
    pub service_output: StructConv<'a>,
    /// Every override, as `Shape.member: why`, for the generated file's docs.
    pub overrides: Vec<String>,
}

/// Plans the conversions for a planned model.
pub fn convert_plan<'a>(model: &ServiceModel, plan: &'a Plan) -> Result<ConvertPlan<'a>, Error> {
    check_overrides(model)?;
    let root = |shape: &str| {
        plan.structs
            .iter()
            .find(|def| def.shape == shape)
            .ok_or_else(|| Error::MissingShape(shape.to_string()))
    };
    let task_definition = root("RegisterTaskDefinitionRequest")?;
    let service = root("CreateServiceRequest")?;

    let reached = sdk_reachable(model, &[task_definition, service])?;
    let mut structs = Vec::new();
    let mut without_sdk_type = Vec::new();
    for def in &plan.structs {
        if def.name == task_definition.name || def.name == service.name {
            continue;
        }
        if reached.contains(&def.shape) {
            structs.push(struct_conv(model, def, &def.shape)?);
        } else {
            without_sdk_type.push(def.name.clone());
        }
    }
    let mut enums = Vec::new();
    for def in &plan.enums {
        if reached.contains(&def.shape) {
            enums.push(def);
        } else {
            without_sdk_type.push(def.name.clone());
        }
    }
    Ok(ConvertPlan {
        structs,
        enums,
        without_sdk_type,
        task_definition_input: struct_conv(
            model,
            task_definition,
            "RegisterTaskDefinitionRequest",
        )?,
        task_definition_output: struct_conv(model, task_definition, "TaskDefinition")?,
        service_input: struct_conv(model, service, "CreateServiceRequest")?,
        service_update: struct_conv(model, service, "UpdateServiceRequest")?,
        service_output: struct_conv(model, service, "Service")?,
        overrides: SDK_OVERRIDES
            .iter()
            .map(|o| format!("`{}.{}`: {}", o.shape, o.member, o.why))
            .collect(),
    })
}

/// Fails when an override names a member the model does not have (the table went stale).
fn check_overrides(model: &ServiceModel) -> Result<(), Error> {
    for entry in SDK_OVERRIDES {
        if !model.structure(entry.shape)?.has_member(entry.member) {
            return Err(Error::MissingShape(format!(
                "{}.{}",
                entry.shape, entry.member
            )));
        }
    }
    for (shape, member, _) in NOT_CONVERTED.iter().chain(EXTRA_SOURCES) {
        if !model.structure(shape)?.has_member(member) && !is_extra(shape, member) {
            return Err(Error::MissingShape(format!("{shape}.{member}")));
        }
    }
    Ok(())
}

/// Whether `shape.member` is filled from elsewhere in the response.
fn is_extra(shape: &str, member: &str) -> bool {
    EXTRA_SOURCES
        .iter()
        .any(|(s, m, _)| *s == shape && *m == member)
}

/// How the SDK stores `shape.member` (which must exist).
fn member_repr(model: &ServiceModel, shape: &str, member: &str) -> Result<Repr, Error> {
    if let Some(entry) = SDK_OVERRIDES
        .iter()
        .find(|o| o.shape == shape && o.member == member)
    {
        return Ok(entry.repr);
    }
    if shape.ends_with("Request") {
        // Operation inputs: the SDK makes every member optional.
        return Ok(Repr::Optional);
    }
    let structure = model.structure(shape)?;
    let member_shape = structure
        .members
        .iter()
        .find(|(name, _)| name == member)
        .map(|(_, m)| m.shape.as_str())
        .ok_or_else(|| Error::MissingShape(format!("{shape}.{member}")))?;
    let unboxed = model.shape(member_shape)?.is_unboxed_primitive();
    Ok(if unboxed {
        Repr::Plain { defaulted: true }
    } else if structure.is_required(member) {
        Repr::Plain { defaulted: false }
    } else {
        Repr::Optional
    })
}

/// Matches a model struct's fields against an SDK shape's members.
fn struct_conv<'a>(
    model: &ServiceModel,
    def: &'a StructDef,
    sdk_shape: &str,
) -> Result<StructConv<'a>, Error> {
    let structure = model.structure(sdk_shape)?;
    let mut fields = Vec::new();
    for field in &def.fields {
        let not_converted = NOT_CONVERTED
            .iter()
            .find(|(shape, member, _)| *shape == def.shape && *member == field.wire_name)
            .map(|(_, _, why)| *why);
        let repr = if not_converted.is_some() || !structure.has_member(&field.wire_name) {
            None
        } else {
            Some(member_repr(model, sdk_shape, &field.wire_name)?)
        };
        if repr.is_none() && !field.optional && !structure.union {
            return Err(Error::MissingShape(format!(
                "{sdk_shape}.{} (required by `{}`)",
                field.wire_name, def.name
            )));
        }
        let override_note = SDK_OVERRIDES
            .iter()
            .find(|o| o.shape == sdk_shape && o.member == field.wire_name)
            .map(|o| o.why);
        fields.push(FieldConv {
            field,
            repr,
            not_converted,
            override_note,
        });
    }
    let mut deprecated = Vec::new();
    if structure.deprecated {
        deprecated.push(format!("`{sdk_shape}`"));
    }
    for field in &fields {
        if field.repr.is_some_and(|repr| repr != Repr::NotInSdk)
            && member_deprecated(model, sdk_shape, &field.field.wire_name)?
        {
            deprecated.push(format!("`{}`", field.field.wire_name));
        }
    }
    let fallible_build = sdk_shape.ends_with("Request")
        || fields
            .iter()
            .any(|f| f.repr == Some(Repr::Plain { defaulted: false }));
    Ok(StructConv {
        def,
        sdk_shape: sdk_shape.to_string(),
        fallible_build,
        deprecated,
        fields,
    })
}

/// Whether `shape.member` is deprecated, or holds a deprecated shape (directly or as the
/// element of a list).
fn member_deprecated(model: &ServiceModel, shape: &str, member: &str) -> Result<bool, Error> {
    let structure = model.structure(shape)?;
    let Some((_, reference)) = structure.members.iter().find(|(name, _)| name == member) else {
        return Ok(false);
    };
    if reference.deprecated {
        return Ok(true);
    }
    let mut shape_name = reference.shape.as_str();
    loop {
        let shape = model.shape(shape_name)?;
        if shape.is_deprecated() {
            return Ok(true);
        }
        match shape {
            Shape::List { member, .. } => shape_name = &member.shape,
            _ => return Ok(false),
        }
    }
}

/// The structure and enum shapes reachable from the roots without passing through a member
/// that is not in the SDK or not converted: the ones that have an SDK counterpart.
fn sdk_reachable(model: &ServiceModel, roots: &[&StructDef]) -> Result<BTreeSet<String>, Error> {
    let mut reached = BTreeSet::new();
    let mut pending: Vec<String> = Vec::new();
    for root in roots {
        let structure = model.structure(&root.shape)?;
        for field in &root.fields {
            let skipped = NOT_CONVERTED
                .iter()
                .any(|(shape, member, _)| *shape == root.shape && *member == field.wire_name)
                || member_repr(model, &root.shape, &field.wire_name)? == Repr::NotInSdk;
            if skipped {
                continue;
            }
            if let Some((_, member)) = structure
                .members
                .iter()
                .find(|(n, _)| *n == field.wire_name)
            {
                pending.push(member.shape.clone());
            }
        }
    }
    while let Some(shape_name) = pending.pop() {
        match model.shape(&shape_name)? {
            Shape::Structure(structure) if !structure.document => {
                if !reached.insert(shape_name.clone()) {
                    continue;
                }
                for (member, reference) in &structure.members {
                    if member_repr(model, &shape_name, member)? != Repr::NotInSdk {
                        pending.push(reference.shape.clone());
                    }
                }
            }
            Shape::String {
                values: Some(_), ..
            } => {
                reached.insert(shape_name);
            }
            Shape::List { member, .. } => pending.push(member.shape.clone()),
            Shape::Map { key, value } => {
                pending.push(key.shape.clone());
                pending.push(value.shape.clone());
            }
            _ => {}
        }
    }
    Ok(reached)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ServiceModel {
        let text = std::fs::read_to_string(crate::model_path()).expect("the committed model");
        ServiceModel::parse(&text).expect("parses")
    }

    #[test]
    fn member_representation_follows_botocore_flags() {
        let model = model();
        let repr = |shape, member| member_repr(&model, shape, member).expect("a member");
        // Unboxed primitive: a plain value with a zero default.
        assert_eq!(
            repr("ContainerDefinition", "cpu"),
            Repr::Plain { defaulted: true }
        );
        // Required: plain, and the builder fails without it.
        assert_eq!(repr("Secret", "name"), Repr::Plain { defaulted: false });
        // Boxed and optional.
        assert_eq!(repr("ContainerDefinition", "memory"), Repr::Optional);
        // Operation inputs: all optional, even `Integer` and required members.
        assert_eq!(repr("CreateServiceRequest", "serviceName"), Repr::Optional);
        // The override table wins.
        assert_eq!(
            repr(
                "FSxWindowsFileServerVolumeConfiguration",
                "authorizationConfig"
            ),
            Repr::Optional
        );
        assert_eq!(
            repr(
                "RegisterTaskDefinitionRequest",
                "trustedExecutionConfiguration"
            ),
            Repr::NotInSdk
        );
    }

    #[test]
    fn overrides_name_members_of_the_model() {
        check_overrides(&model()).expect("no stale entry");
    }

    #[test]
    fn deprecated_members_are_found_through_lists() {
        let model = model();
        assert!(
            member_deprecated(
                &model,
                "RegisterTaskDefinitionRequest",
                "inferenceAccelerators"
            )
            .expect("a member")
        );
        assert!(!member_deprecated(&model, "ContainerDefinition", "cpu").expect("a member"));
    }
}
