//! The version of Juju running the charm (`JUJU_VERSION`), compared as Juju
//! compares its versions, and what a charm may use in it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A Juju version: `3.1.6`, `3.1-beta2`, `2.9.44.1` (with a build number).
///
/// Versions order as Juju orders them: a tagged version (`3.1-beta2`) comes
/// before the release it leads to (`3.1.0`), and a missing build number is
/// 0.
///
/// ```
/// use ops::JujuVersion;
///
/// let version: JujuVersion = "3.1.6".parse()?;
/// assert!(version.supports_exec_service_context());
/// assert!("3.1-rc1".parse::<JujuVersion>()? < "3.1.0".parse()?);
/// assert!(!"3.1.5".parse::<JujuVersion>()?.supports_exec_service_context());
/// # Ok::<(), ops::JujuVersionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct JujuVersion {
    /// The major version.
    pub major: u32,
    /// The minor version.
    pub minor: u32,
    /// The tag of a pre-release (`beta`, `rc`); empty for a release.
    pub tag: String,
    /// The patch level, or the pre-release's number (`3` of `beta3`).
    pub patch: u32,
    /// The build number (the fourth number), 0 if none.
    pub build: u32,
}

/// A `JUJU_VERSION` that is not a Juju version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JujuVersionError {
    /// Not of the form `<major>.<minor>.<patch>[.<build>]` or
    /// `<major>.<minor>-<tag><number>[.<build>]`.
    #[error("not a Juju version (expected such as 3.1.6 or 3.1-beta2): {reason}")]
    Malformed {
        /// What did not fit (never the text itself, which came from outside).
        reason: &'static str,
    },
}

impl JujuVersion {
    /// The version `major.minor.patch`.
    pub fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            tag: String::new(),
            patch,
            build: 0,
        }
    }

    /// Whether `major.minor.patch` is at least the given one. Feature
    /// checks compare these three only, as Python ops' do: a pre-release's
    /// number stands in for the patch level (`3.4-beta1` is 3.4.1 here).
    fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        (self.major, self.minor, self.patch) >= (major, minor, patch)
    }

    /// Whether relations have application databags (2.7.0 and later).
    pub fn has_app_data(&self) -> bool {
        self.at_least(2, 7, 0)
    }

    /// Whether Juju runs `dispatch` for every event (2.8.0 and later).
    pub fn is_dispatch_aware(&self) -> bool {
        self.at_least(2, 8, 0)
    }

    /// Whether Juju keeps unit state for the charm (`state-get`, 2.8.0 and
    /// later): what [`StateLocation::Juju`](crate::StateLocation::Juju) needs.
    pub fn has_controller_storage(&self) -> bool {
        self.at_least(2, 8, 0)
    }

    /// Whether Juju has secrets (3.0.3 and later, as Python ops has it).
    pub fn has_secrets(&self) -> bool {
        self.at_least(3, 0, 3)
    }

    /// Whether `open-port` works on Kubernetes (3.0.3 and later).
    pub fn supports_open_port_on_k8s(&self) -> bool {
        self.at_least(3, 0, 3)
    }

    /// Whether Pebble exec takes a service context (the Pebble shipped with
    /// Juju 3.1.6 and later, but not 3.2.0, released before that Pebble);
    /// before, Pebble ignores it and the command runs without the service's
    /// environment, user and directory.
    pub fn supports_exec_service_context(&self) -> bool {
        self.at_least(3, 1, 6) && (self.major, self.minor, self.patch) != (3, 2, 0)
    }

    /// Whether the Pebble shipped with this Juju forwards logs (layer
    /// `log-targets`; 3.4.0 and later).
    pub fn supports_pebble_log_forwarding(&self) -> bool {
        self.at_least(3, 4, 0)
    }

    /// Whether the Pebble shipped with this Juju has identities (3.6.4 and
    /// later).
    pub fn supports_pebble_identities(&self) -> bool {
        self.at_least(3, 6, 4)
    }

    /// Whether the Pebble shipped with this Juju serves metrics (3.6.4 and
    /// later).
    pub fn supports_pebble_metrics(&self) -> bool {
        self.at_least(3, 6, 4)
    }
}

impl FromStr for JujuVersion {
    type Err = JujuVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = |reason| JujuVersionError::Malformed { reason };
        let number = |part: &str, reason| -> Result<u32, JujuVersionError> {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed(reason));
            }
            part.parse().map_err(|_| malformed("a number is too large"))
        };
        let (major, rest) = text
            .split_once('.')
            .ok_or_else(|| malformed("no minor version"))?;
        let major = number(major, "the major version is not a number")?;
        // `<minor>.<patch>[.<build>]` or `<minor>-<tag><n>[.<build>]`.
        let (minor, tag, patch, build) = match rest.split_once('-') {
            Some((minor, tagged)) => {
                let (tagged, build) = match tagged.split_once('.') {
                    Some((tagged, build)) => (tagged, Some(build)),
                    None => (tagged, None),
                };
                let digits = tagged
                    .find(|c: char| c.is_ascii_digit())
                    .unwrap_or(tagged.len());
                let (tag, patch) = tagged.split_at(digits);
                if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_lowercase()) {
                    return Err(malformed("the tag is not lowercase letters"));
                }
                (minor, tag, patch, build)
            }
            None => {
                let mut parts = rest.splitn(3, '.');
                let minor = parts.next().unwrap_or_default();
                let patch = parts.next().ok_or_else(|| malformed("no patch level"))?;
                (minor, "", patch, parts.next())
            }
        };
        let minor = number(minor, "the minor version is not a number")?;
        let patch = if tag.is_empty() || !patch.is_empty() {
            number(patch, "the patch level is not a number")?
        } else {
            0
        };
        let build = match build {
            Some(build) => number(build, "the build number is not a number")?,
            None => 0,
        };
        Ok(Self {
            major,
            minor,
            tag: tag.to_string(),
            patch,
            build,
        })
    }
}

impl Ord for JujuVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor)
            .cmp(&(other.major, other.minor))
            // A pre-release comes before the release: no tag is greatest.
            .then_with(|| match (self.tag.is_empty(), other.tag.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.tag.cmp(&other.tag),
            })
            .then_with(|| (self.patch, self.build).cmp(&(other.patch, other.build)))
    }
}

impl PartialOrd for JujuVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for JujuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tag.is_empty() {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        } else {
            write!(
                f,
                "{}.{}-{}{}",
                self.major, self.minor, self.tag, self.patch
            )?;
        }
        if self.build != 0 {
            write!(f, ".{}", self.build)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> JujuVersion {
        text.parse().unwrap()
    }

    #[test]
    fn releases_pre_releases_and_builds_parse() {
        assert_eq!(v("3.1.6"), JujuVersion::new(3, 1, 6));
        let beta = v("3.1-beta2");
        assert_eq!((beta.minor, beta.tag.as_str(), beta.patch), (1, "beta", 2));
        assert_eq!(v("2.9.44.1").build, 1);
        assert_eq!(v("3.6-rc1.3").build, 3);
        assert_eq!(v("3.6-beta").patch, 0);
        for text in ["3.1.6", "3.1-beta2", "2.9.44.1", "3.6-rc1.3"] {
            assert_eq!(v(text).to_string(), text);
        }
    }

    #[test]
    fn versions_order_as_juju_orders_them() {
        assert!(v("3.1-beta1") < v("3.1-beta2"));
        assert!(v("3.1-beta9") < v("3.1-rc1"));
        assert!(v("3.1-rc1") < v("3.1.0"));
        assert!(v("3.1.5") < v("3.1.6"));
        assert!(v("3.1.6") < v("3.1.6.1"));
        assert!(v("2.9.44") < v("3.0.0"));
        assert!(v("3.10.0") > v("3.9.9"));
    }

    #[test]
    fn the_features_start_where_juju_ships_them() {
        assert!(!v("3.1.5").supports_exec_service_context());
        assert!(v("3.1.6").supports_exec_service_context());
        assert!(!v("3.2.0").supports_exec_service_context());
        assert!(v("3.2.1").supports_exec_service_context());
        // As Python ops: a pre-release's number is the patch level here.
        assert!(!v("3.1-rc5").supports_exec_service_context());
        assert!(v("3.1-rc6").supports_exec_service_context());
        assert!(!v("3.0.2").has_secrets());
        assert!(v("3.0.3").has_secrets());
        assert!(v("2.8.0").is_dispatch_aware());
        assert!(!v("2.7.9").is_dispatch_aware());
        assert!(v("2.7.0").has_app_data() && !v("2.6.9").has_app_data());
        assert!(v("2.8.0").has_controller_storage());
        assert!(v("3.4.0").supports_pebble_log_forwarding());
        assert!(!v("3.3.9").supports_pebble_log_forwarding());
        assert!(v("3.6.4").supports_pebble_identities() && v("3.6.4").supports_pebble_metrics());
        assert!(!v("3.6.3").supports_pebble_identities() && !v("3.6.3").supports_pebble_metrics());
    }

    #[test]
    fn what_is_not_a_version_is_refused_without_echoing_it() {
        for text in [
            "",
            "3",
            "3.",
            "3.1",
            "x.1.2",
            "3.x.2",
            "3.1.x",
            "3.1-",
            "3.1-BETA1",
            "3.1-1",
            "3.1.6.",
            "3.1.6.x",
            "99999999999.1.1",
            "3.1.6 ",
            "-3.1.6",
        ] {
            assert!(text.parse::<JujuVersion>().is_err(), "{text:?}");
        }
        // The message is ours alone: none of the text given is in it.
        for text in ["x.1.2", "3.1-BETA1", "3.1.6.x", "99999999999.1.1", "7.7.7 "] {
            let err = text.parse::<JujuVersion>().unwrap_err();
            assert!(!err.to_string().contains(text), "{text:?}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn prop_juju_versions_round_trip(
            major in 0u32..100, minor in 0u32..100, tag in "(|alpha|beta|rc)",
            patch in 0u32..1000, build in 0u32..10,
        ) {
            let version = JujuVersion { major, minor, tag, patch, build };
            let text = version.to_string();
            proptest::prop_assert_eq!(text.parse::<JujuVersion>(), Ok(version));
        }

        #[test]
        fn prop_any_text_parses_or_is_refused_without_panic(text in "\\PC{0,24}") {
            let _ = text.parse::<JujuVersion>();
        }
    }
}
