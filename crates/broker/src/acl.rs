//! ACLs in Kafka's model, and the authorizer that applies them as Kafka's
//! StandardAuthorizer does:
//!
//! * a binding is (resource type, resource name, pattern literal or
//!   prefixed, principal `User:name` or `User:*`, host or `*`, operation,
//!   allow or deny);
//! * `super.users` may do everything;
//! * a DENY that matches wins over any ALLOW;
//! * an ALLOW for Read, Write, Delete or Alter implies Describe, and one for
//!   AlterConfigs implies DescribeConfigs; All matches every operation;
//! * a resource no binding matches at all is allowed only with
//!   `allow.everyone.if.no.acl.found` (false by default).
//!
//! The bindings persist in `acls.ferrolog` in the data directory: written
//! to a temporary file, fsynced and renamed over the old one, with a
//! SHA-256 of the content at its end that is checked (with every length
//! and enum value) when the broker opens it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};

/// Kafka's ResourceType codes.
pub mod resource {
    /// Any type: in a filter only.
    pub const ANY: i8 = 1;
    /// A topic, by name.
    pub const TOPIC: i8 = 2;
    /// A consumer group, by id.
    pub const GROUP: i8 = 3;
    /// The cluster, whose one name is [`super::CLUSTER_NAME`].
    pub const CLUSTER: i8 = 4;
    /// A producer's `transactional.id`.
    pub const TRANSACTIONAL_ID: i8 = 5;
}

/// Kafka's PatternType codes.
pub mod pattern {
    /// Any pattern: in a filter only.
    pub const ANY: i8 = 1;
    /// In a filter only: every binding that would apply to the filter's
    /// name (literal, wildcard or a prefix of it).
    pub const MATCH: i8 = 2;
    /// The binding's name is the resource's name, or `*` for all.
    pub const LITERAL: i8 = 3;
    /// The binding's name is a prefix of the resources' names.
    pub const PREFIXED: i8 = 4;
}

/// Kafka's AclOperation codes.
pub mod op {
    /// Any operation: in a filter only.
    pub const ANY: i8 = 1;
    /// Every operation (a binding for All matches each).
    pub const ALL: i8 = 2;
    /// Fetch from a topic; join, sync, heartbeat and commit in a group.
    pub const READ: i8 = 3;
    /// Produce to a topic; use a transactional id.
    pub const WRITE: i8 = 4;
    /// Create topics (on the cluster or a topic).
    pub const CREATE: i8 = 5;
    /// Delete topics, records or groups.
    pub const DELETE: i8 = 6;
    /// Add partitions to a topic; change ACLs (on the cluster).
    pub const ALTER: i8 = 7;
    /// See a topic's metadata and offsets, a group, the cluster's ACLs.
    pub const DESCRIBE: i8 = 8;
    /// Broker-to-broker requests (none served here).
    pub const CLUSTER_ACTION: i8 = 9;
    /// Read topic or broker configs.
    pub const DESCRIBE_CONFIGS: i8 = 10;
    /// Change topic or broker configs.
    pub const ALTER_CONFIGS: i8 = 11;
    /// InitProducerId for an idempotent producer (on the cluster).
    pub const IDEMPOTENT_WRITE: i8 = 12;
}

/// Kafka's AclPermissionType codes.
pub mod perm {
    /// Either: in a filter only.
    pub const ANY: i8 = 1;
    /// Refuses what it matches, whatever else allows it.
    pub const DENY: i8 = 2;
    /// Allows what it matches, unless a DENY matches too.
    pub const ALLOW: i8 = 3;
}

/// The cluster resource's only name.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The literal name and principal/host that match everything.
pub const WILDCARD: &str = "*";
const FILE: &str = "acls.ferrolog";
const MAGIC: &[u8; 8] = b"FLACLS\x00\x01";
/// A file larger than this is not read (about 100,000 long bindings).
const FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Bindings the broker keeps at most.
pub const BINDINGS_MAX: usize = 100_000;
/// Longest name, principal or host in a binding.
const STRING_BYTES_MAX: usize = u16::MAX as usize;

/// One ACL binding, as CreateAcls sends it and the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Binding {
    /// A [`resource`] code (not ANY).
    pub resource_type: i8,
    /// The resource's name, a prefix of names, or `*`; at most 65,535 bytes.
    pub name: String,
    /// A [`pattern`] code: LITERAL or PREFIXED.
    pub pattern: i8,
    /// `User:<name>` or `User:*`.
    pub principal: String,
    /// The client's IP address, or `*` for any.
    pub host: String,
    /// An [`op`] code (not ANY).
    pub operation: i8,
    /// A [`perm`] code: DENY or ALLOW.
    pub permission: i8,
}

/// A filter as DescribeAcls and DeleteAcls send it (None = any).
#[derive(Debug, Clone)]
pub struct Filter {
    /// A [`resource`] code, ANY for every type.
    pub resource_type: i8,
    /// The name to match (see `pattern`), None for any.
    pub name: Option<String>,
    /// A [`pattern`] code: ANY, MATCH, LITERAL or PREFIXED.
    pub pattern: i8,
    /// The principal to match exactly, None for any.
    pub principal: Option<String>,
    /// The host to match exactly, None for any.
    pub host: Option<String>,
    /// An [`op`] code, ANY for every operation.
    pub operation: i8,
    /// A [`perm`] code, ANY for both.
    pub permission: i8,
}

/// Why a binding cannot be created (Kafka answers INVALID_REQUEST).
pub fn validate(b: &Binding) -> Result<(), String> {
    if !matches!(
        b.resource_type,
        resource::TOPIC | resource::GROUP | resource::CLUSTER | resource::TRANSACTIONAL_ID
    ) {
        return Err(format!(
            "resource type {} cannot be in an ACL",
            b.resource_type
        ));
    }
    if !matches!(b.pattern, pattern::LITERAL | pattern::PREFIXED) {
        return Err(format!("pattern type {} cannot be in an ACL", b.pattern));
    }
    if !(op::ALL..=op::IDEMPOTENT_WRITE).contains(&b.operation) {
        return Err(format!("operation {} cannot be in an ACL", b.operation));
    }
    if !matches!(b.permission, perm::ALLOW | perm::DENY) {
        return Err(format!("permission {} cannot be in an ACL", b.permission));
    }
    if b.name.is_empty() {
        return Err("the resource name is empty".into());
    }
    if b.resource_type == resource::CLUSTER && b.name != CLUSTER_NAME {
        return Err(format!("the cluster resource is named {CLUSTER_NAME}"));
    }
    if b.pattern == pattern::PREFIXED && b.name == WILDCARD {
        return Err("a prefixed pattern cannot be the wildcard".into());
    }
    match b.principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {}
        _ => {
            return Err(format!(
                "principal `{}` is not of the form User:name",
                b.principal
            ))
        }
    }
    if b.host.is_empty() {
        return Err("the host is empty (use * for any)".into());
    }
    for s in [&b.name, &b.principal, &b.host] {
        if s.len() > STRING_BYTES_MAX {
            return Err("a name, principal or host is longer than 65535 bytes".into());
        }
    }
    Ok(())
}

/// Why a filter is invalid (Kafka answers INVALID_REQUEST).
pub fn validate_filter(f: &Filter) -> Result<(), String> {
    if !(resource::ANY..=resource::TRANSACTIONAL_ID).contains(&f.resource_type) {
        return Err(format!("resource type {} is not a filter", f.resource_type));
    }
    if !(pattern::ANY..=pattern::PREFIXED).contains(&f.pattern) {
        return Err(format!("pattern type {} is not a filter", f.pattern));
    }
    if !(op::ANY..=op::IDEMPOTENT_WRITE).contains(&f.operation) {
        return Err(format!("operation {} is not a filter", f.operation));
    }
    if !(perm::ANY..=perm::ALLOW).contains(&f.permission) {
        return Err(format!("permission {} is not a filter", f.permission));
    }
    Ok(())
}

impl Filter {
    /// Kafka's AclBindingFilter.matches.
    pub fn matches(&self, b: &Binding) -> bool {
        let rt = self.resource_type == resource::ANY || self.resource_type == b.resource_type;
        let name_pattern = match self.pattern {
            pattern::ANY => self.name.as_ref().is_none_or(|n| *n == b.name),
            // MATCH: the bindings that would apply to the named resource.
            pattern::MATCH => match &self.name {
                None => true,
                Some(n) => match b.pattern {
                    pattern::LITERAL => b.name == *n || b.name == WILDCARD,
                    pattern::PREFIXED => n.starts_with(&b.name),
                    _ => false,
                },
            },
            p => p == b.pattern && self.name.as_ref().is_none_or(|n| *n == b.name),
        };
        let principal = self.principal.as_ref().is_none_or(|p| *p == b.principal);
        let host = self.host.as_ref().is_none_or(|h| *h == b.host);
        let operation = self.operation == op::ANY || self.operation == b.operation;
        let permission = self.permission == perm::ANY || self.permission == b.permission;
        rt && name_pattern && principal && host && operation && permission
    }
}

/// Who asks, from where.
#[derive(Debug, Clone)]
pub struct Requester<'a> {
    /// The SASL user name (without `User:`).
    pub user: &'a str,
    /// The client's IP address, as bindings name hosts.
    pub host: &'a str,
}

fn resource_matches(b: &Binding, resource_type: i8, name: &str) -> bool {
    b.resource_type == resource_type
        && match b.pattern {
            pattern::LITERAL => b.name == name || b.name == WILDCARD,
            pattern::PREFIXED => name.starts_with(&b.name),
            _ => false,
        }
}

fn principal_matches(b: &Binding, user: &str) -> bool {
    match b.principal.split_once(':') {
        Some(("User", n)) => n == WILDCARD || n == user,
        _ => false,
    }
}

/// The operations an ALLOW for `granted` also allows.
fn implies(granted: i8, asked: i8) -> bool {
    granted == asked
        || granted == op::ALL
        || (asked == op::DESCRIBE
            && matches!(granted, op::READ | op::WRITE | op::DELETE | op::ALTER))
        || (asked == op::DESCRIBE_CONFIGS && granted == op::ALTER_CONFIGS)
}

/// The decision for one (resource, operation), given every binding.
pub fn authorize(
    bindings: &[Binding],
    config: &crate::config::AclConfig,
    who: &Requester<'_>,
    resource_type: i8,
    name: &str,
    operation: i8,
) -> bool {
    if config.super_users.iter().any(|u| u == who.user) {
        return true;
    }
    let mut any_for_resource = false;
    let mut allowed = false;
    for b in bindings
        .iter()
        .filter(|b| resource_matches(b, resource_type, name))
    {
        any_for_resource = true;
        if !principal_matches(b, who.user) || !(b.host == WILDCARD || b.host == who.host) {
            continue;
        }
        if b.permission == perm::DENY && (b.operation == operation || b.operation == op::ALL) {
            return false;
        }
        if b.permission == perm::ALLOW && implies(b.operation, operation) {
            allowed = true;
        }
    }
    allowed || (!any_for_resource && config.allow_if_no_acl)
}

/// Whether some resource of `resource_type` could allow `operation` to the
/// requester (Kafka's authorizeByResourceType, which InitProducerId uses
/// for idempotent producers): an ALLOW no DENY of the same pattern cancels.
pub fn authorize_any(
    bindings: &[Binding],
    config: &crate::config::AclConfig,
    who: &Requester<'_>,
    resource_type: i8,
    operation: i8,
) -> bool {
    if config.super_users.iter().any(|u| u == who.user) {
        return true;
    }
    let applies = |b: &&Binding| {
        b.resource_type == resource_type
            && principal_matches(b, who.user)
            && (b.host == WILDCARD || b.host == who.host)
    };
    let denied = |b: &Binding| {
        bindings.iter().filter(applies).any(|d| {
            d.permission == perm::DENY
                && (d.operation == operation || d.operation == op::ALL)
                && ((d.pattern == pattern::LITERAL && d.name == WILDCARD)
                    || (d.pattern == pattern::PREFIXED && b.name.starts_with(&d.name))
                    || (d.pattern == b.pattern && d.name == b.name))
        })
    };
    bindings
        .iter()
        .filter(applies)
        .any(|b| b.permission == perm::ALLOW && implies(b.operation, operation) && !denied(b))
        || (config.allow_if_no_acl && !bindings.iter().any(|b| b.resource_type == resource_type))
}

/// The bindings of one data directory, in memory and in `acls.ferrolog`.
pub struct Store {
    path: PathBuf,
    bindings: RwLock<Vec<Binding>>,
    /// Serializes changes, so each file write holds one consistent set.
    write: Mutex<()>,
}

/// One store per data directory in this process, so the broker and the
/// in-process admin of the same directory see one set of ACLs.
static SHARED: Mutex<Vec<(PathBuf, std::sync::Weak<Store>)>> = Mutex::new(Vec::new());

impl Store {
    /// The data directory's store, loaded on first use and shared by every
    /// user in this process while one holds it.
    pub fn shared(dir: &Path) -> Result<std::sync::Arc<Store>, String> {
        let mut all = SHARED.lock();
        all.retain(|(_, w)| w.strong_count() > 0);
        if let Some(s) = all
            .iter()
            .find(|(p, _)| p == dir)
            .and_then(|(_, w)| w.upgrade())
        {
            return Ok(s);
        }
        let s = std::sync::Arc::new(Store::open(dir)?);
        all.push((dir.to_path_buf(), std::sync::Arc::downgrade(&s)));
        Ok(s)
    }

    /// Loads the data directory's ACLs (none when the file does not exist).
    pub fn open(dir: &Path) -> Result<Store, String> {
        let path = dir.join(FILE);
        let bindings = match fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            Ok(m) if m.len() > FILE_BYTES_MAX => {
                return Err(format!(
                    "{} is {} bytes, more than the {FILE_BYTES_MAX} an ACL file may have",
                    path.display(),
                    m.len()
                ))
            }
            Ok(_) => {
                let bytes =
                    fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                decode(&bytes).map_err(|e| format!("{} is damaged: {e}", path.display()))?
            }
        };
        Ok(Store {
            path,
            bindings: RwLock::new(bindings),
            write: Mutex::new(()),
        })
    }

    /// Every binding, read-locked: hold it only for one check or listing
    /// (writers wait for it).
    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, Vec<Binding>> {
        self.bindings.read()
    }

    /// Whether the store holds no binding.
    pub fn is_empty(&self) -> bool {
        self.bindings.read().is_empty()
    }

    /// Adds the bindings not present yet and writes the file (blocking:
    /// call it off the async workers). Nothing changes when it fails.
    pub fn create(&self, new: &[Binding]) -> Result<(), String> {
        let _w = self.write.lock();
        let mut next = self.bindings.read().clone();
        for b in new {
            validate(b)?;
            if !next.contains(b) {
                next.push(b.clone());
            }
        }
        if next.len() > BINDINGS_MAX {
            return Err(format!("more than {BINDINGS_MAX} ACLs"));
        }
        self.persist(&next)?;
        *self.bindings.write() = next;
        Ok(())
    }

    /// Removes the bindings each filter matches, and returns them per
    /// filter (blocking, as `create`).
    pub fn delete(&self, filters: &[Filter]) -> Result<Vec<Vec<Binding>>, String> {
        let _w = self.write.lock();
        let current = self.bindings.read().clone();
        let per_filter: Vec<Vec<Binding>> = filters
            .iter()
            .map(|f| current.iter().filter(|b| f.matches(b)).cloned().collect())
            .collect();
        let next: Vec<Binding> = current
            .into_iter()
            .filter(|b| !filters.iter().any(|f| f.matches(b)))
            .collect();
        if per_filter.iter().any(|v| !v.is_empty()) {
            self.persist(&next)?;
            *self.bindings.write() = next;
        }
        Ok(per_filter)
    }

    fn persist(&self, bindings: &[Binding]) -> Result<(), String> {
        let bytes = encode(bindings);
        let tmp = self.path.with_extension("ferrolog.tmp");
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", self.path.display());
        let mut f = fs::File::create(&tmp).map_err(fail)?;
        f.write_all(&bytes).map_err(fail)?;
        f.sync_all().map_err(fail)?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(fail)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(fail)?;
        }
        Ok(())
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // validate() keeps every string within u16.
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes().get(..usize::from(len)).unwrap_or_default());
}

/// MAGIC, u32 count, per binding 4 codes and 3 u16-prefixed strings, then
/// the SHA-256 of all of that.
pub fn encode(bindings: &[Binding]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + bindings.len() * 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(bindings.len() as u32).to_be_bytes());
    for b in bindings {
        out.extend_from_slice(&[
            b.resource_type as u8,
            b.pattern as u8,
            b.operation as u8,
            b.permission as u8,
        ]);
        put_str(&mut out, &b.name);
        put_str(&mut out, &b.principal);
        put_str(&mut out, &b.host);
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn string(&mut self) -> Result<String, String> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not UTF-8".into())
    }
}

/// The bindings of an `acls.ferrolog` file's bytes, after checking its
/// magic, SHA-256, every length and every code; an error names what is
/// wrong and nothing is trusted.
pub fn decode(bytes: &[u8]) -> Result<Vec<Binding>, String> {
    if bytes.len() < MAGIC.len() + 4 + 32 {
        return Err("too short".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != sum {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader(body);
    if r.take(MAGIC.len())? != MAGIC {
        return Err("not a ferrolog ACL file (bad magic)".into());
    }
    let count = r.take(4)?;
    let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]) as usize;
    if count > BINDINGS_MAX {
        return Err(format!("{count} ACLs, more than {BINDINGS_MAX}"));
    }
    // Each binding takes at least 10 bytes: bounds the allocation.
    let mut out = Vec::with_capacity(count.min(r.0.len() / 10));
    for _ in 0..count {
        let codes = r.take(4)?;
        let b = Binding {
            resource_type: codes[0] as i8,
            pattern: codes[1] as i8,
            operation: codes[2] as i8,
            permission: codes[3] as i8,
            name: r.string()?,
            principal: r.string()?,
            host: r.string()?,
        };
        validate(&b)?;
        out.push(b);
    }
    if !r.0.is_empty() {
        return Err("bytes after the last ACL".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AclConfig;
    use proptest::prelude::*;

    fn b(rt: i8, name: &str, pat: i8, user: &str, operation: i8, permission: i8) -> Binding {
        Binding {
            resource_type: rt,
            name: name.into(),
            pattern: pat,
            principal: format!("User:{user}"),
            host: "*".into(),
            operation,
            permission,
        }
    }

    fn who(user: &str) -> Requester<'_> {
        Requester {
            user,
            host: "127.0.0.1",
        }
    }

    #[test]
    fn no_acl_denies_unless_configured() {
        let c = AclConfig::default();
        assert!(!authorize(
            &[],
            &c,
            &who("a"),
            resource::TOPIC,
            "t",
            op::READ
        ));
        let open = AclConfig {
            allow_if_no_acl: true,
            ..AclConfig::default()
        };
        assert!(authorize(
            &[],
            &open,
            &who("a"),
            resource::TOPIC,
            "t",
            op::READ
        ));
        // An ACL for someone else on the resource: no longer "no ACL found".
        let acls = [b(
            resource::TOPIC,
            "t",
            pattern::LITERAL,
            "b",
            op::READ,
            perm::ALLOW,
        )];
        assert!(!authorize(
            &acls,
            &open,
            &who("a"),
            resource::TOPIC,
            "t",
            op::READ
        ));
    }

    #[test]
    fn implied_operations() {
        let c = AclConfig::default();
        for g in [op::READ, op::WRITE, op::DELETE, op::ALTER] {
            let acls = [b(
                resource::TOPIC,
                "t",
                pattern::LITERAL,
                "a",
                g,
                perm::ALLOW,
            )];
            assert!(authorize(
                &acls,
                &c,
                &who("a"),
                resource::TOPIC,
                "t",
                op::DESCRIBE
            ));
        }
        let acls = [b(
            resource::TOPIC,
            "t",
            pattern::LITERAL,
            "a",
            op::READ,
            perm::ALLOW,
        )];
        assert!(!authorize(
            &acls,
            &c,
            &who("a"),
            resource::TOPIC,
            "t",
            op::WRITE
        ));
        let acls = [b(
            resource::TOPIC,
            "t",
            pattern::LITERAL,
            "a",
            op::ALTER_CONFIGS,
            perm::ALLOW,
        )];
        assert!(authorize(
            &acls,
            &c,
            &who("a"),
            resource::TOPIC,
            "t",
            op::DESCRIBE_CONFIGS
        ));
        // A DENY of Read does not deny Describe (Kafka: only All or the same op).
        let acls = [
            b(
                resource::TOPIC,
                "t",
                pattern::LITERAL,
                "a",
                op::ALL,
                perm::ALLOW,
            ),
            b(
                resource::TOPIC,
                "t",
                pattern::LITERAL,
                "a",
                op::READ,
                perm::DENY,
            ),
        ];
        assert!(authorize(
            &acls,
            &c,
            &who("a"),
            resource::TOPIC,
            "t",
            op::DESCRIBE
        ));
        assert!(!authorize(
            &acls,
            &c,
            &who("a"),
            resource::TOPIC,
            "t",
            op::READ
        ));
    }

    #[test]
    fn hosts_and_wildcards() {
        let c = AclConfig::default();
        let mut acl = b(
            resource::TOPIC,
            "*",
            pattern::LITERAL,
            "*",
            op::READ,
            perm::ALLOW,
        );
        assert!(authorize(
            &[acl.clone()],
            &c,
            &who("x"),
            resource::TOPIC,
            "any",
            op::READ
        ));
        acl.host = "10.0.0.1".into();
        assert!(!authorize(
            &[acl],
            &c,
            &who("x"),
            resource::TOPIC,
            "any",
            op::READ
        ));
    }

    #[test]
    fn file_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let acl = b(
            resource::GROUP,
            "g-",
            pattern::PREFIXED,
            "a",
            op::READ,
            perm::ALLOW,
        );
        s.create(std::slice::from_ref(&acl)).unwrap();
        s.create(std::slice::from_ref(&acl)).unwrap();
        assert_eq!(
            Store::open(dir.path()).unwrap().read().clone(),
            vec![acl.clone()]
        );
        let path = dir.path().join(FILE);
        let mut bytes = fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let e = Store::open(dir.path()).err().unwrap();
        assert!(e.contains("checksum"), "{e}");
        // A bad binding is refused and writes nothing.
        let s = Store::open(tempfile::tempdir().unwrap().path()).unwrap();
        let mut bad = acl;
        bad.principal = "nobody".into();
        assert!(s.create(&[bad]).is_err());
        assert!(s.is_empty());
    }

    #[test]
    fn decode_never_trusts_counts() {
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        let sum = Sha256::digest(&body);
        body.extend_from_slice(&sum);
        assert!(decode(&body).is_err());
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&3u32.to_be_bytes());
        let sum = Sha256::digest(&body);
        body.extend_from_slice(&sum);
        assert_eq!(decode(&body).unwrap_err(), "truncated");
    }

    fn arb_binding() -> impl Strategy<Value = Binding> {
        (
            prop_oneof![Just(resource::TOPIC), Just(resource::GROUP)],
            prop_oneof![Just("t"), Just("t-"), Just("t-1"), Just("*"), Just("u")],
            prop_oneof![Just(pattern::LITERAL), Just(pattern::PREFIXED)],
            prop_oneof![Just("a"), Just("b"), Just("*")],
            prop_oneof![Just("*"), Just("127.0.0.1"), Just("10.0.0.1")],
            prop_oneof![
                Just(op::ALL),
                Just(op::READ),
                Just(op::WRITE),
                Just(op::DESCRIBE),
                Just(op::ALTER)
            ],
            prop_oneof![Just(perm::ALLOW), Just(perm::DENY)],
        )
            .prop_filter("prefixed wildcard is invalid", |t| {
                !(t.2 == pattern::PREFIXED && t.1 == "*")
            })
            .prop_map(
                |(rt, name, pat, user, host, operation, permission)| Binding {
                    resource_type: rt,
                    name: name.into(),
                    pattern: pat,
                    principal: format!("User:{user}"),
                    host: host.into(),
                    operation,
                    permission,
                },
            )
    }

    fn applies(b: &Binding, rt: i8, name: &str, user: &str, host: &str) -> bool {
        let res = b.resource_type == rt
            && if b.pattern == pattern::PREFIXED {
                name.starts_with(b.name.as_str())
            } else {
                b.name == name || b.name == "*"
            };
        res && (b.principal == "User:*" || b.principal == format!("User:{user}"))
            && (b.host == "*" || b.host == host)
    }

    proptest! {
        /// Deny wins: with a matching DENY (same operation or All) the
        /// answer is no whatever ALLOWs exist; without one it is yes
        /// exactly when a matching ALLOW implies the operation.
        #[test]
        fn deny_wins_and_prefixes_match(
            acls in proptest::collection::vec(arb_binding(), 0..12),
            name in prop_oneof![Just("t"), Just("t-1"), Just("t-12"), Just("u"), Just("v")],
            user in prop_oneof![Just("a"), Just("b"), Just("c")],
            operation in prop_oneof![Just(op::READ), Just(op::WRITE), Just(op::DESCRIBE), Just(op::ALTER)],
        ) {
            let c = AclConfig::default();
            let host = "127.0.0.1";
            let got = authorize(&acls, &c, &Requester { user, host }, resource::TOPIC, name, operation);
            let matching: Vec<&Binding> = acls.iter().filter(|b| applies(b, resource::TOPIC, name, user, host)).collect();
            let denied = matching.iter().any(|b| b.permission == perm::DENY && (b.operation == operation || b.operation == op::ALL));
            let allowed = matching.iter().any(|b| b.permission == perm::ALLOW && (b.operation == operation || b.operation == op::ALL
                || (operation == op::DESCRIBE && matches!(b.operation, op::READ | op::WRITE | op::ALTER | op::DELETE))));
            prop_assert_eq!(got, !denied && allowed);
            // A super user is allowed whatever the bindings say.
            let sup = AclConfig { super_users: vec![user.to_string()], ..AclConfig::default() };
            let as_super = authorize(&acls, &sup, &Requester { user, host }, resource::TOPIC, name, operation);
            prop_assert!(as_super);
            // The file holds exactly what was stored.
            prop_assert_eq!(decode(&encode(&acls)).unwrap(), acls);
        }
    }
}
