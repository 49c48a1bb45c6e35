//! The gate's configuration: `DIR/gate.toml`, owned by the service account.
//!
//! Everything an environment's operators decide lives here — where files are kept and
//! released to, who reviews, how many approvals a request needs, which files are refused and
//! which findings block — so that a gate's behaviour can be read in one place. Unknown keys
//! are errors: a misspelt `aprovals = 2` must not silently leave the two-person rule off.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use deid_core::EntityType;
use serde::{Deserialize, Serialize};

use crate::archive::Limits;

/// The configuration file's name inside the gate directory.
pub const CONFIG_FILE: &str = "gate.toml";

/// A gate's configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Decisions.
    pub gate: GateSection,
    /// Storage areas.
    pub storage: Storage,
    /// Who may do what.
    pub roles: Roles,
    /// What may be submitted.
    #[serde(default)]
    pub files: FilePolicy,
    /// Limits on unpacking archives.
    #[serde(default)]
    pub archives: ArchiveLimits,
    /// Which findings block a request and which need a reviewer.
    #[serde(default)]
    pub scan: ScanPolicy,
    /// Where notifications go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

/// How requests are decided.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateSection {
    /// Approvals a request needs from distinct reviewers (2 = the two-person rule).
    #[serde(default = "one")]
    pub approvals: u32,
    /// Release a request as soon as it is approved, without `deid gate release`.
    #[serde(default)]
    pub release_on_approval: bool,
}

fn one() -> u32 {
    1
}

/// Where the gate keeps files. Relative paths are inside the gate directory.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Ingested datasets, read-only, named by content hash.
    #[serde(default = "import_dir")]
    pub import: PathBuf,
    /// Files of export requests, as submitted (the submitter cannot change them).
    #[serde(default = "queue_dir")]
    pub queue: PathBuf,
    /// Files of denied requests.
    #[serde(default = "quarantine_dir")]
    pub quarantine: PathBuf,
    /// Scratch space (archive members being scanned).
    #[serde(default = "work_dir")]
    pub work: PathBuf,
    /// The release destination: an absolute folder, `az://container/prefix` or
    /// `s3://bucket/prefix`.
    pub release: String,
    /// object_store options for the release destination (account, endpoint, emulator…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub release_options: BTreeMap<String, String>,
    /// Object-store prefixes that data owners may ingest from (`az://uploads/`); the gate
    /// reads and then deletes objects there with its own credentials, so nothing else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingest_sources: Vec<String>,
    /// object_store options for the ingest sources.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ingest_options: BTreeMap<String, String>,
}

fn import_dir() -> PathBuf {
    "import".into()
}
fn queue_dir() -> PathBuf {
    "queue".into()
}
fn quarantine_dir() -> PathBuf {
    "quarantine".into()
}
fn work_dir() -> PathBuf {
    "work".into()
}

/// Operating-system user names by role.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// May change roles. Being an admin grants no approval.
    #[serde(default)]
    pub admins: Vec<String>,
    /// May approve or deny requests other than their own.
    #[serde(default)]
    pub reviewers: Vec<String>,
}

/// A role that can be granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Changes roles.
    Admin,
    /// Approves and denies.
    Reviewer,
}

impl Roles {
    /// Whether `user` holds `role`.
    pub fn has(&self, user: &str, role: Role) -> bool {
        self.list(role).iter().any(|u| u == user)
    }

    /// The users holding `role`.
    pub fn list(&self, role: Role) -> &Vec<String> {
        match role {
            Role::Admin => &self.admins,
            Role::Reviewer => &self.reviewers,
        }
    }

    fn list_mut(&mut self, role: Role) -> &mut Vec<String> {
        match role {
            Role::Admin => &mut self.admins,
            Role::Reviewer => &mut self.reviewers,
        }
    }

    /// Grants `role`; false when the user held it already.
    pub fn add(&mut self, user: &str, role: Role) -> bool {
        let list = self.list_mut(role);
        if list.iter().any(|u| u == user) {
            return false;
        }
        list.push(user.to_owned());
        true
    }

    /// Takes `role` away; false when the user did not hold it.
    pub fn remove(&mut self, user: &str, role: Role) -> bool {
        let list = self.list_mut(role);
        let before = list.len();
        list.retain(|u| u != user);
        list.len() != before
    }
}

/// What may be submitted.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilePolicy {
    /// Largest file accepted, in bytes.
    #[serde(default = "max_file_bytes")]
    pub max_file_bytes: u64,
    /// Largest request accepted (all files), in bytes.
    #[serde(default = "max_request_bytes")]
    pub max_request_bytes: u64,
    /// Most files in one request.
    #[serde(default = "max_files")]
    pub max_files: u32,
    /// Extensions refused at submission (lowercase, without the dot).
    #[serde(default = "denied_extensions")]
    pub denied_extensions: Vec<String>,
}

fn max_file_bytes() -> u64 {
    16 << 30
}
fn max_request_bytes() -> u64 {
    64 << 30
}
fn max_files() -> u32 {
    1000
}
fn denied_extensions() -> Vec<String> {
    [
        "exe", "dll", "so", "dylib", "msi", "bat", "cmd", "ps1", "scr",
    ]
    .map(String::from)
    .to_vec()
}

impl Default for FilePolicy {
    fn default() -> FilePolicy {
        FilePolicy {
            max_file_bytes: max_file_bytes(),
            max_request_bytes: max_request_bytes(),
            max_files: max_files(),
            denied_extensions: denied_extensions(),
        }
    }
}

/// Archive limits as configured.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveLimits {
    /// Largest unpacked member, in bytes.
    pub max_member_bytes: u64,
    /// Largest unpacked total per archive, in bytes.
    pub max_total_bytes: u64,
    /// Largest ratio of unpacked to packed bytes.
    pub max_ratio: u64,
    /// Deepest nesting of archives in archives.
    pub max_depth: u32,
    /// Most members per archive, all levels together.
    pub max_members: u64,
}

impl Default for ArchiveLimits {
    fn default() -> ArchiveLimits {
        let limits = Limits::default();
        ArchiveLimits {
            max_member_bytes: limits.max_member_bytes,
            max_total_bytes: limits.max_total_bytes,
            max_ratio: limits.max_ratio,
            max_depth: limits.max_depth,
            max_members: limits.max_members,
        }
    }
}

impl ArchiveLimits {
    /// The limits the unpacker takes.
    pub fn limits(&self) -> Limits {
        Limits {
            max_member_bytes: self.max_member_bytes,
            max_total_bytes: self.max_total_bytes,
            max_ratio: self.max_ratio,
            max_depth: self.max_depth,
            max_members: self.max_members,
        }
    }
}

/// Which findings block a request and which need a reviewer. Entity types are the DESIGN
/// §5 names; `*` means every type.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScanPolicy {
    /// Findings of these types deny the request at once; no override can release it.
    #[serde(default)]
    pub block: Vec<String>,
    /// Findings of these types flag the request: approval needs an explicit override.
    #[serde(default = "every_type")]
    pub review: Vec<String>,
}

fn every_type() -> Vec<String> {
    vec!["*".to_owned()]
}

impl Default for ScanPolicy {
    fn default() -> ScanPolicy {
        ScanPolicy {
            block: Vec::new(),
            review: every_type(),
        }
    }
}

/// What the scan policy makes of one entity type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Denies the request.
    Block,
    /// Flags the request for review.
    Review,
    /// Counted and shown, but neither.
    Note,
}

impl ScanPolicy {
    /// The verdict on findings of `entity`.
    pub fn verdict(&self, entity: &str) -> Verdict {
        let listed = |list: &[String]| list.iter().any(|t| t == "*" || t == entity);
        if listed(&self.block) {
            Verdict::Block
        } else if listed(&self.review) {
            Verdict::Review
        } else {
            Verdict::Note
        }
    }
}

/// The webhook that hears of new requests and decisions.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// An `http://` or `https://` URL (for example an Azure Logic App HTTP trigger).
    pub url: String,
    /// Include file names in messages (off: names may carry identifiers).
    #[serde(default)]
    pub include_names: bool,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl Config {
    /// A new gate's configuration.
    pub fn new(release: &str, approvals: u32, admin: &str) -> Config {
        Config {
            gate: GateSection {
                approvals,
                release_on_approval: false,
            },
            storage: Storage {
                import: import_dir(),
                queue: queue_dir(),
                quarantine: quarantine_dir(),
                work: work_dir(),
                release: release.to_owned(),
                release_options: BTreeMap::new(),
                ingest_sources: Vec::new(),
                ingest_options: BTreeMap::new(),
            },
            roles: Roles {
                admins: vec![admin.to_owned()],
                reviewers: Vec::new(),
            },
            files: FilePolicy::default(),
            archives: ArchiveLimits::default(),
            scan: ScanPolicy::default(),
            webhook: None,
        }
    }

    /// Reads and validates `path`.
    ///
    /// # Errors
    /// When the file cannot be read, is not valid TOML, has unknown keys or bad values.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let error = |message: String| ConfigError {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let config: Config = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
        config.validate().map_err(error)?;
        Ok(config)
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks values that TOML types cannot.
    ///
    /// # Errors
    /// A message naming the key and what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=10).contains(&self.gate.approvals) {
            return Err(format!(
                "gate.approvals = {}: must be from 1 to 10",
                self.gate.approvals
            ));
        }
        for (key, list) in [
            ("scan.block", &self.scan.block),
            ("scan.review", &self.scan.review),
        ] {
            for name in list {
                if name != "*" && name.parse::<EntityType>().is_err() {
                    return Err(format!("{key}: `{name}` is not an entity type"));
                }
            }
        }
        if let Some(hook) = &self.webhook
            && !(hook.url.starts_with("http://") || hook.url.starts_with("https://"))
        {
            return Err("webhook.url: must start with http:// or https://".to_owned());
        }
        for area in [
            &self.storage.import,
            &self.storage.queue,
            &self.storage.quarantine,
            &self.storage.work,
        ] {
            if area.as_os_str().is_empty() {
                return Err("storage: an area's path is empty".to_owned());
            }
        }
        for source in &self.storage.ingest_sources {
            if !(source.starts_with("az://") || source.starts_with("s3://"))
                || !source.ends_with('/')
            {
                return Err(format!(
                    "storage.ingest_sources: `{source}` must be az://… or s3://… and end with `/`"
                ));
            }
        }
        if self.archives.max_depth > 16 {
            return Err("archives.max_depth: at most 16".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    const MINIMAL: &str =
        "[gate]\n[storage]\nrelease = \"/srv/out\"\n[roles]\nadmins = [\"ann\"]\n";

    #[test]
    fn a_minimal_config_takes_the_defaults() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.gate.approvals, 1);
        assert_eq!(config.scan.verdict("SSN"), Verdict::Review);
        assert!(config.files.denied_extensions.contains(&"exe".to_owned()));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let misspelt = MINIMAL.replace("[gate]", "[gate]\naprovals = 2");
        assert!(parse(&misspelt).unwrap_err().contains("aprovals"));
        let zero = MINIMAL.replace("[gate]", "[gate]\napprovals = 0");
        assert!(parse(&zero).unwrap_err().contains("gate.approvals"));
        let bad_type = format!("{MINIMAL}[scan]\nblock = [\"SOCIAL\"]\n");
        assert!(parse(&bad_type).unwrap_err().contains("SOCIAL"));
        let bad_hook = format!("{MINIMAL}[webhook]\nurl = \"ftp://x\"\n");
        assert!(parse(&bad_hook).unwrap_err().contains("webhook.url"));
    }

    #[test]
    fn block_wins_over_review() {
        let config = parse(&format!(
            "{MINIMAL}[scan]\nblock = [\"SSN\"]\nreview = [\"NAME\"]\n"
        ))
        .unwrap();
        assert_eq!(config.scan.verdict("SSN"), Verdict::Block);
        assert_eq!(config.scan.verdict("NAME"), Verdict::Review);
        assert_eq!(config.scan.verdict("DATE"), Verdict::Note);
    }

    #[test]
    fn the_written_config_reads_back() {
        let config = Config::new("az://exports/approved", 2, "ann");
        let back = parse(&config.to_toml()).unwrap();
        assert_eq!(back.gate.approvals, 2);
        assert_eq!(back.roles.admins, ["ann"]);
        assert_eq!(back.storage.release, "az://exports/approved");
    }

    #[test]
    fn roles_are_granted_once_and_removed() {
        let mut roles = Roles::default();
        assert!(roles.add("bo", Role::Reviewer));
        assert!(!roles.add("bo", Role::Reviewer));
        assert!(roles.has("bo", Role::Reviewer));
        assert!(!roles.has("bo", Role::Admin));
        assert!(roles.remove("bo", Role::Reviewer));
        assert!(!roles.remove("bo", Role::Reviewer));
    }
}
