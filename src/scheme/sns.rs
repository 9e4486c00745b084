//! Amazon SNS message signatures: the key is the certificate at the message's
//! `SigningCertURL`, fetched at run time from a host pinned here, and the signed bytes are
//! the SNS canonical string of the message's fields. Which topics a route accepts is route
//! configuration (`topic_arns`): SNS signs every topic's messages with the same key, so a
//! signature alone proves only that some AWS account's topic sent it.

use serde::Deserialize;

/// The hosts a signing certificate or subscription URL may name. Fixed, not configurable:
/// widening them is how an SSRF would start.
pub const SNS_HOSTS: &[&str] = &["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"];

/// The YAML shape of an `sns:` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsSpec {
    /// The `SignatureVersion`s accepted: `1` (RSA with SHA-1, SNS's default) and `2`
    /// (RSA with SHA-256). Default both; `[2]` for topics set to version 2.
    pub signature_versions: Option<Vec<u8>>,
}

/// A validated `sns:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsRule {
    /// Accepts `SignatureVersion: "1"`.
    pub version_1: bool,
    /// Accepts `SignatureVersion: "2"`.
    pub version_2: bool,
}

impl SnsSpec {
    /// Validates the block; the message says what is wrong.
    pub fn build(&self) -> Result<SnsRule, String> {
        let Some(versions) = &self.signature_versions else {
            return Ok(SnsRule {
                version_1: true,
                version_2: true,
            });
        };
        if versions.is_empty() || versions.iter().any(|v| !matches!(v, 1 | 2)) {
            return Err("signature_versions lists 1, 2 or both".into());
        }
        Ok(SnsRule {
            version_1: versions.contains(&1),
            version_2: versions.contains(&2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_default_to_both_and_refuse_others() {
        let both = SnsSpec::default().build().unwrap();
        assert!(both.version_1 && both.version_2);
        let two = SnsSpec {
            signature_versions: Some(vec![2]),
        };
        assert_eq!(
            two.build(),
            Ok(SnsRule {
                version_1: false,
                version_2: true
            })
        );
        for bad in [vec![], vec![3], vec![1, 0]] {
            let spec = SnsSpec {
                signature_versions: Some(bad),
            };
            assert!(spec.build().is_err());
        }
    }
}
