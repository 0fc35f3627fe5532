//! `${VAR}` substitution in manifest strings, with `$${` as the escape for a literal `${`.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, FieldPath, Segment};
use crate::yaml::{Node, Value};

/// Variables available to manifests (`vars:` in the config, `--var`, `--vars-file`).
pub type Vars = BTreeMap<String, String>;

/// Replaces `${NAME}` in every string value of `node` (keys are left alone).
///
/// Returns one diagnostic per undefined variable or malformed reference; the node is still
/// substituted as far as possible so that later errors are reported too.
pub fn substitute(node: &mut Node, vars: &Vars) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    walk(node, vars, &mut FieldPath::root(), &mut diagnostics);
    diagnostics
}

fn walk(node: &mut Node, vars: &Vars, path: &mut FieldPath, out: &mut Vec<Diagnostic>) {
    match &mut node.value {
        Value::Scalar(scalar) => {
            if scalar.text.contains('$') {
                match expand(&scalar.text, vars) {
                    Ok(text) => scalar.text = text,
                    Err(message) => {
                        out.push(Diagnostic::error(node.span.clone(), path.clone(), message))
                    }
                }
            }
        }
        Value::Seq(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.0.push(Segment::Index(index));
                walk(item, vars, path, out);
                path.0.pop();
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                path.0.push(Segment::Key(key.name.clone()));
                walk(value, vars, path, out);
                path.0.pop();
            }
        }
    }
}

/// Expands one string. `$${` is a literal `${`; a `$` not followed by `{` stays as it is.
pub(crate) fn expand(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            out.push_str("${");
            rest = escaped;
        } else if let Some(reference) = after.strip_prefix('{') {
            let Some(end) = reference.find('}') else {
                return Err(format!(
                    "unterminated `${{` in {text:?}; close it with `}}`, or write `$${{` for a literal `${{`"
                ));
            };
            let name = &reference[..end];
            if !is_var_name(name) {
                return Err(format!(
                    "`${{{name}}}` is not a valid variable reference (names are letters, digits and `_`); write `$${{` for a literal `${{`"
                ));
            }
            match vars.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    return Err(format!(
                        "undefined variable `{name}`: define it in the config's `vars`, with `--var {name}=VALUE` or in a `--vars-file`, or write `$${{{name}}}` for a literal `${{{name}}}`"
                    ));
                }
            }
            rest = &reference[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::yaml::parse_documents;

    fn vars() -> Vars {
        Vars::from([("ACCOUNT".to_string(), "123456789012".to_string())])
    }

    #[test]
    fn expands_known_variables() {
        assert_eq!(
            expand("${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web:1", &vars()),
            Ok("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1".into())
        );
    }

    #[test]
    fn double_dollar_is_a_literal() {
        assert_eq!(
            expand("echo $${HOSTNAME} costs $5", &vars()),
            Ok("echo ${HOSTNAME} costs $5".into())
        );
    }

    #[test]
    fn undefined_variable_says_how_to_define_it() {
        let err = expand("${NOPE}", &vars()).unwrap_err();
        assert!(err.starts_with("undefined variable `NOPE`"), "{err}");
        assert!(err.contains("--var NOPE=VALUE"), "{err}");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(
            expand("${unterminated", &vars())
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            expand("${a-b}", &vars())
                .unwrap_err()
                .contains("not a valid variable")
        );
    }

    #[test]
    fn substitute_reports_position_and_field() {
        let mut docs = parse_documents(&Arc::from("v.yaml"), "spec:\n  image: \"${MISSING}:1\"\n")
            .expect("yaml");
        let diags = substitute(&mut docs[0], &vars());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].path.to_string(), "spec.image");
        assert_eq!((diags[0].span.line, diags[0].span.column), (2, 10));
    }
}
