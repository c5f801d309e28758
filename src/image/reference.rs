//! Strong types for what the image half passes around: digests, image references, the registry's credentials.

use std::fmt;

use secrecy::SecretString;

/// A content digest, `sha256:<64 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// Accepts only `sha256:` followed by 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ECR repository as the registry sees it: `registry_host/name`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Repository {
    pub name: String,
    /// `123456789012.dkr.ecr.eu-west-1.amazonaws.com`, or the sandbox's `127.0.0.1:PORT`.
    pub registry: String,
}

impl Repository {
    /// `registry/name`, the repositoryUri ECR reports.
    pub fn uri(&self) -> String {
        format!("{}/{}", self.registry, self.name)
    }

    pub fn tagged(&self, tag: &str) -> String {
        format!("{}:{tag}", self.uri())
    }

    /// The reference a task definition pins: `registry/name@sha256:...`.
    pub fn pinned(&self, digest: &Digest) -> String {
        format!("{}@{digest}", self.uri())
    }
}

/// Registry credentials from ECR's GetAuthorizationToken, held in memory only.
#[derive(Clone)]
pub struct RegistryAuth {
    /// Host (no scheme) the credentials are for.
    pub server: String,
    pub username: String,
    pub password: SecretString,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_validated() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Digest::parse(&good).map(|d| d.to_string()), Some(good));
        assert!(Digest::parse("sha256:abc").is_none());
        assert!(Digest::parse(&format!("md5:{}", "a".repeat(64))).is_none());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_none());
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let auth = RegistryAuth { server: "r".into(), username: "AWS".into(), password: "hunter2".to_owned().into() };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
