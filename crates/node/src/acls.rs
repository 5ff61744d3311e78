//! ACLs of the data directory this process owns, for the in-process admin
//! (`kafka.admin().describeAcls/createAcls/deleteAcls` with a `dataDir`).
//! The owner is not subject to ACLs: these calls change and read the same
//! store the broker enforces (one per directory in the process), without
//! an authorization check. The file is read and written on a thread of its
//! own, never on the JavaScript thread. The object types are shared with
//! the remote client's ACL calls (client.rs).

use ferrolog_broker::acl::{self, Binding, Filter, Store};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;

use crate::args::narrow;
use crate::{coded, invalid, NativeLog, Result};

/// One ACL binding in Kafka's codes (kafkajs' AclEntry).
#[napi(object)]
#[derive(Clone)]
pub struct NativeAclBinding {
    pub resource_type: i32,
    pub resource_name: String,
    pub resource_pattern_type: i32,
    pub principal: String,
    pub host: String,
    pub operation: i32,
    pub permission_type: i32,
}

/// kafkajs' AclFilter: an absent name, principal or host matches any.
#[napi(object)]
pub struct NativeAclFilter {
    pub resource_type: i32,
    pub resource_name: Option<String>,
    pub resource_pattern_type: i32,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i32,
    pub permission_type: i32,
}

/// One binding's or filter's outcome (Kafka error code and message).
#[napi(object)]
pub struct NativeAclResult {
    pub error_code: i32,
    pub error_message: Option<String>,
}

#[napi(object)]
pub struct NativeAclDeleteResult {
    pub error_code: i32,
    pub error_message: Option<String>,
    pub matching_acls: Vec<NativeAclBinding>,
}

/// The four Kafka codes of a binding or filter from JavaScript, each
/// checked to fit Kafka's INT8: the local store's and the remote client's
/// conversions share this check and its messages.
pub(crate) struct AclCodes {
    pub resource_type: i8,
    pub pattern: i8,
    pub operation: i8,
    pub permission: i8,
}

fn acl_codes(
    resource_type: i32,
    pattern: i32,
    operation: i32,
    permission: i32,
) -> Result<AclCodes> {
    Ok(AclCodes {
        resource_type: narrow("resourceType", resource_type)?,
        pattern: narrow("resourcePatternType", pattern)?,
        operation: narrow("operation", operation)?,
        permission: narrow("permissionType", permission)?,
    })
}

impl NativeAclBinding {
    pub(crate) fn codes(&self) -> Result<AclCodes> {
        acl_codes(
            self.resource_type,
            self.resource_pattern_type,
            self.operation,
            self.permission_type,
        )
    }
}

impl NativeAclFilter {
    pub(crate) fn codes(&self) -> Result<AclCodes> {
        acl_codes(
            self.resource_type,
            self.resource_pattern_type,
            self.operation,
            self.permission_type,
        )
    }
}

fn binding_in(b: NativeAclBinding) -> Result<Binding> {
    let c = b.codes()?;
    Ok(Binding {
        resource_type: c.resource_type,
        name: b.resource_name,
        pattern: c.pattern,
        principal: b.principal,
        host: b.host,
        operation: c.operation,
        permission: c.permission,
    })
}

fn filter_in(f: NativeAclFilter) -> Result<Filter> {
    let c = f.codes()?;
    Ok(Filter {
        resource_type: c.resource_type,
        name: f.resource_name,
        pattern: c.pattern,
        principal: f.principal,
        host: f.host,
        operation: c.operation,
        permission: c.permission,
    })
}

fn binding_out(b: Binding) -> NativeAclBinding {
    NativeAclBinding {
        resource_type: b.resource_type.into(),
        resource_name: b.name,
        resource_pattern_type: b.pattern.into(),
        principal: b.principal,
        host: b.host,
        operation: b.operation.into(),
        permission_type: b.permission.into(),
    }
}

/// Kafka's INVALID_REQUEST, for a binding or filter the broker would refuse.
const INVALID_REQUEST: i32 = 42;
const UNKNOWN_SERVER_ERROR: i32 = -1;

/// Runs `work` with the directory's ACL store on a thread of its own.
fn on_thread<'env, T: napi::bindgen_prelude::ToNapiValue + Send + 'static>(
    env: &'env Env,
    log: &NativeLog,
    work: impl FnOnce(&Store) -> std::result::Result<T, String> + Send + 'static,
) -> Result<Object<'env>> {
    log.check()?;
    let dir = log.engine.dir().to_path_buf();
    let (deferred, promise) = crate::deferred::<T>(env)?;
    std::thread::Builder::new()
        .name("ferrolog-acls".into())
        .spawn(move || match Store::shared(&dir).and_then(|s| work(&s)) {
            Ok(v) => crate::resolve(deferred, v),
            Err(e) => crate::reject(deferred, coded("ERR_IO", e)),
        })
        .map_err(|e| coded("ERR_IO", format!("cannot start a thread: {e}")))?;
    Ok(promise)
}

/// The bindings `filter` matches; an invalid filter is refused.
#[napi(ts_return_type = "Promise<NativeAclBinding[]>")]
pub fn acls_describe<'env>(
    env: &'env Env,
    log: &NativeLog,
    filter: NativeAclFilter,
) -> Result<Object<'env>> {
    let filter = filter_in(filter)?;
    acl::validate_filter(&filter).map_err(invalid)?;
    on_thread(env, log, move |store| {
        Ok(store
            .read()
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .map(binding_out)
            .collect::<Vec<_>>())
    })
}

/// Adds the valid bindings (one write); one result per binding, in order.
#[napi(ts_return_type = "Promise<NativeAclResult[]>")]
pub fn acls_create<'env>(
    env: &'env Env,
    log: &NativeLog,
    acls: Vec<NativeAclBinding>,
) -> Result<Object<'env>> {
    let acls = acls
        .into_iter()
        .map(binding_in)
        .collect::<Result<Vec<_>>>()?;
    on_thread(env, log, move |store| {
        let checks: Vec<std::result::Result<(), String>> = acls.iter().map(acl::validate).collect();
        let valid: Vec<Binding> = acls
            .iter()
            .zip(&checks)
            .filter(|(_, c)| c.is_ok())
            .map(|(b, _)| b.clone())
            .collect();
        let written = if valid.is_empty() {
            Ok(())
        } else {
            store.create(&valid)
        };
        Ok(checks
            .into_iter()
            .map(|c| match (c, &written) {
                (Err(e), _) => NativeAclResult {
                    error_code: INVALID_REQUEST,
                    error_message: Some(e),
                },
                (Ok(()), Err(e)) => NativeAclResult {
                    error_code: UNKNOWN_SERVER_ERROR,
                    error_message: Some(e.clone()),
                },
                (Ok(()), Ok(())) => NativeAclResult {
                    error_code: 0,
                    error_message: None,
                },
            })
            .collect::<Vec<_>>())
    })
}

/// Removes what each filter matches; per filter, the bindings removed.
#[napi(ts_return_type = "Promise<NativeAclDeleteResult[]>")]
pub fn acls_delete<'env>(
    env: &'env Env,
    log: &NativeLog,
    filters: Vec<NativeAclFilter>,
) -> Result<Object<'env>> {
    let filters = filters
        .into_iter()
        .map(filter_in)
        .collect::<Result<Vec<_>>>()?;
    for f in &filters {
        acl::validate_filter(f).map_err(invalid)?;
    }
    on_thread(env, log, move |store| {
        Ok(store
            .delete(&filters)?
            .into_iter()
            .map(|removed| NativeAclDeleteResult {
                error_code: 0,
                error_message: None,
                matching_acls: removed.into_iter().map(binding_out).collect(),
            })
            .collect::<Vec<_>>())
    })
}
