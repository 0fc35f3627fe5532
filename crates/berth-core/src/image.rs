//! Container image references: parsing, and recognising ECR images (which berth pins by digest).

use std::fmt;

/// A parsed image reference: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host (with port), if the reference names one.
    pub registry: Option<String>,
    /// Repository path, e.g. `library/nginx` or `web`.
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest (`sha256:<64 hex>`), if given.
    pub digest: Option<String>,
}

/// An image in Amazon ECR: `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG][@DIGEST]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcrImage {
    /// 12-digit account id that owns the registry.
    pub account: String,
    /// AWS region of the registry.
    pub region: String,
    /// Repository name.
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest, if given.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses an image reference as Docker does, with a message saying what is wrong.
    pub fn parse(text: &str) -> Result<ImageRef, String> {
        if text.is_empty() {
            return Err("image is empty".into());
        }
        if text.chars().any(|c| c.is_whitespace()) {
            return Err(format!("image `{text}` contains whitespace"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(|why| format!("image `{text}`: {why}"))?;
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
                (Some(first.to_string()), path)
            }
            _ => (None, rest),
        };
        // A colon after the last slash separates the tag (one before it is a registry port).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag.to_string())),
            _ => (path, None),
        };
        if repository.is_empty() {
            return Err(format!("image `{text}` has no repository name"));
        }
        for component in repository.split('/') {
            if !valid_path_component(component) {
                return Err(format!(
                    "image `{text}`: repository component `{component}` must be lowercase letters, digits and single `.`, `_`, `-` separators"
                ));
            }
        }
        if let Some(tag) = &tag
            && !valid_tag(tag)
        {
            return Err(format!(
                "image `{text}`: tag `{tag}` must be 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
            ));
        }
        Ok(ImageRef {
            registry,
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The ECR coordinates of this image, if its registry is an ECR registry.
    pub fn ecr(&self) -> Option<EcrImage> {
        let registry = self.registry.as_deref()?;
        let mut parts = registry.split('.');
        let account = parts.next()?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if parts.next()? != "dkr" || parts.next()? != "ecr" {
            return None;
        }
        let region = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        if !(rest == ["amazonaws", "com"] || rest == ["amazonaws", "com", "cn"]) {
            return None;
        }
        Some(EcrImage {
            account: account.to_string(),
            region: region.to_string(),
            repository: self.repository.clone(),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "digest `{digest}` must look like `sha256:<64 hex digits>`"
        ));
    };
    let well_formed = match algorithm {
        "sha256" => hex.len() == 64,
        "sha512" => hex.len() == 128,
        _ => false,
    };
    if well_formed
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(())
    } else {
        Err(format!(
            "digest `{digest}` must look like `sha256:<64 lowercase hex digits>`"
        ))
    }
}

fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    alnum(first)
        && alnum(last)
        && bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        && !component.contains("..")
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_docker_hub_short_names() {
        let image = ImageRef::parse("nginx:1.27").expect("valid");
        assert_eq!(
            (
                image.registry,
                image.repository.as_str(),
                image.tag.as_deref()
            ),
            (None, "nginx", Some("1.27"))
        );
        assert_eq!(
            ImageRef::parse("amazon/aws-xray-daemon")
                .expect("valid")
                .tag,
            None
        );
    }

    #[test]
    fn registry_port_is_not_a_tag() {
        let image = ImageRef::parse("localhost:5000/team/app").expect("valid");
        assert_eq!(image.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(image.repository, "team/app");
        assert_eq!(image.tag, None);
    }

    #[test]
    fn recognises_ecr_with_tag_and_digest() {
        let text = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2@{DIGEST}");
        let ecr = ImageRef::parse(&text).expect("valid").ecr().expect("ecr");
        assert_eq!(ecr.account, "123456789012");
        assert_eq!(ecr.region, "us-east-1");
        assert_eq!(ecr.repository, "web");
        assert_eq!(ecr.tag.as_deref(), Some("1.4.2"));
        assert_eq!(ecr.digest.as_deref(), Some(DIGEST));
        assert_eq!(ImageRef::parse(&text).expect("valid").to_string(), text);
    }

    #[test]
    fn public_ecr_is_not_private_ecr() {
        let image = ImageRef::parse("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
            .expect("valid");
        assert_eq!(image.ecr(), None);
    }

    #[test]
    fn rejects_malformed_references() {
        assert!(ImageRef::parse("Web:1").unwrap_err().contains("lowercase"));
        assert!(ImageRef::parse("<IMAGE1_NAME>").is_err());
        assert!(
            ImageRef::parse("web:1 ")
                .unwrap_err()
                .contains("whitespace")
        );
        assert!(
            ImageRef::parse("web@sha256:abc")
                .unwrap_err()
                .contains("64")
        );
        assert!(ImageRef::parse("web:-bad").unwrap_err().contains("tag"));
    }
}
