//! Rust identifiers for botocore names: types, fields and enum variants.

/// Rust keywords that can be used as raw identifiers (`r#type`).
const RAW_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const FORBIDDEN: &[&str] = &["crate", "self", "Self", "super", "_"];

/// Field names the word splitter gets wrong (`GiB` is one word, not `Gi` + `B`).
const FIELD_NAME_OVERRIDES: &[(&str, &str)] = &[("sizeInGiB", "size_in_gib")];

/// Splits a name into words at case changes and non-alphanumeric characters.
///
/// `enableECSManagedTags` → `enable`, `ECS`, `Managed`, `Tags`; `FARGATE_SPOT` → `FARGATE`,
/// `SPOT`; `json-file` → `json`, `file`. A word ends before an uppercase letter that follows a
/// lowercase letter or digit, and before the last capital of an acronym that is followed by a
/// lowercase letter (`EFSVolume` → `EFS`, `Volume`). Digits stay with the letters before them.
pub fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (index, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !current.is_empty() {
            let previous = chars[index - 1];
            let next_is_lower = chars.get(index + 1).is_some_and(char::is_ascii_lowercase);
            let after_lower = previous.is_ascii_lowercase() || previous.is_ascii_digit();
            let ends_acronym = previous.is_ascii_uppercase() && next_is_lower;
            if after_lower || ends_acronym {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Capitalizes the first letter of a word and lowercases the rest (`EFS` → `Efs`).
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => {
            first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
        }
        None => String::new(),
    }
}

/// Joins capitalized words; digits meeting digits get an underscore (`X86_64` stays readable).
fn join_upper_camel(words: &[String]) -> String {
    let mut out = String::new();
    for word in words {
        let digit_meets_digit = out.ends_with(|c: char| c.is_ascii_digit())
            && word.starts_with(|c: char| c.is_ascii_digit());
        if digit_meets_digit {
            out.push('_');
        }
        out.push_str(&capitalize(word));
    }
    out
}

/// UpperCamel type name for a shape name: `EFSVolumeConfiguration` → `EfsVolumeConfiguration`.
pub fn type_name(shape: &str) -> String {
    join_upper_camel(&words(shape))
}

/// UpperCamel variant name for an enum wire value: `FARGATE_SPOT` → `FargateSpot`,
/// `json-file` → `JsonFile`, `X86_64` → `X86_64`.
pub fn variant_name(value: &str) -> Result<String, String> {
    let name = join_upper_camel(&words(value));
    check_identifier(&name, value)
}

/// snake_case field name for a member name: `enableECSManagedTags` →
/// `enable_ecs_managed_tags`; keywords become raw identifiers (`type` → `r#type`).
pub fn field_name(member: &str) -> Result<String, String> {
    if let Some((_, name)) = FIELD_NAME_OVERRIDES
        .iter()
        .find(|(wire, _)| *wire == member)
    {
        return Ok((*name).to_string());
    }
    let name = words(member)
        .iter()
        .map(|word| word.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    let name = check_identifier(&name, member)?;
    if RAW_KEYWORDS.contains(&name.as_str()) {
        Ok(format!("r#{name}"))
    } else {
        Ok(name)
    }
}

/// Rejects names that cannot be Rust identifiers.
fn check_identifier(name: &str, source: &str) -> Result<String, String> {
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if !starts_well || FORBIDDEN.contains(&name) {
        return Err(format!(
            "`{source}` does not make a Rust identifier (got `{name}`)"
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(
            type_name("EFSVolumeConfiguration"),
            "EfsVolumeConfiguration"
        );
        assert_eq!(type_name("CPUArchitecture"), "CpuArchitecture");
        assert_eq!(
            type_name("FSxWindowsFileServerVolumeConfiguration"),
            "FSxWindowsFileServerVolumeConfiguration"
        );
        assert_eq!(type_name("ContainerDefinition"), "ContainerDefinition");
        assert_eq!(
            type_name("EFSAuthorizationConfigIAM"),
            "EfsAuthorizationConfigIam"
        );
    }

    #[test]
    fn variant_names() {
        assert_eq!(variant_name("FARGATE_SPOT").as_deref(), Ok("FargateSpot"));
        assert_eq!(variant_name("json-file").as_deref(), Ok("JsonFile"));
        assert_eq!(variant_name("awsvpc").as_deref(), Ok("Awsvpc"));
        assert_eq!(variant_name("X86_64").as_deref(), Ok("X86_64"));
        assert_eq!(variant_name("ARM64").as_deref(), Ok("Arm64"));
        assert_eq!(
            variant_name("distinctInstance").as_deref(),
            Ok("DistinctInstance")
        );
        assert_eq!(
            variant_name("WINDOWS_SERVER_20H2_CORE").as_deref(),
            Ok("WindowsServer20H2Core")
        );
    }

    #[test]
    fn field_names() {
        assert_eq!(
            field_name("enableECSManagedTags").as_deref(),
            Ok("enable_ecs_managed_tags")
        );
        assert_eq!(field_name("type").as_deref(), Ok("r#type"));
        assert_eq!(
            field_name("awsvpcConfiguration").as_deref(),
            Ok("awsvpc_configuration")
        );
        assert_eq!(field_name("containerPort").as_deref(), Ok("container_port"));
        assert_eq!(field_name("sizeInGiB").as_deref(), Ok("size_in_gib"));
        assert!(field_name("self").is_err());
    }
}
