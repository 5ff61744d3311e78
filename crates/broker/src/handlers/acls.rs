//! DescribeAcls, CreateAcls and DeleteAcls over the data directory's ACL
//! store. The caller needs Describe (DescribeAcls) or Alter (the other two)
//! on the cluster when ACLs are enforced; the file is written off the
//! tokio workers.

use std::sync::Arc;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::Ctx;
use crate::acl::{self, op, Binding, Filter};
use crate::authz::{Authz, CLUSTER_AUTHORIZATION_FAILED};
use crate::errors;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn opt(v: &Option<StrBytes>) -> Option<String> {
    v.as_ref().map(|x| x.to_string())
}

const DENIED: &str = "Cluster authorization failed.";

pub fn describe(az: &Authz, ctx: &Ctx, req: &DescribeAclsRequest) -> DescribeAclsResponse {
    let resp = DescribeAclsResponse::default();
    if !az.cluster(op::DESCRIBE) {
        return resp
            .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
            .with_error_message(Some(s(DENIED)));
    }
    let filter = Filter {
        resource_type: req.resource_type_filter,
        name: opt(&req.resource_name_filter),
        pattern: req.pattern_type_filter,
        principal: opt(&req.principal_filter),
        host: opt(&req.host_filter),
        operation: req.operation,
        permission: req.permission_type,
    };
    if let Err(e) = acl::validate_filter(&filter) {
        return resp
            .with_error_code(errors::INVALID_REQUEST)
            .with_error_message(Some(s(&e)));
    }
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for b in ctx.acls.read().iter().filter(|b| filter.matches(b)) {
        let d = AclDescription::default()
            .with_principal(s(&b.principal))
            .with_host(s(&b.host))
            .with_operation(b.operation)
            .with_permission_type(b.permission);
        match resources.iter_mut().find(|r| {
            r.resource_type == b.resource_type
                && r.pattern_type == b.pattern
                && r.resource_name.as_str() == b.name
        }) {
            Some(r) => r.acls.push(d),
            None => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(b.resource_type)
                    .with_resource_name(s(&b.name))
                    .with_pattern_type(b.pattern)
                    .with_acls(vec![d]),
            ),
        }
    }
    resp.with_error_code(errors::NONE).with_resources(resources)
}

pub async fn create(az: &Authz<'_>, ctx: &Arc<Ctx>, req: CreateAclsRequest) -> CreateAclsResponse {
    let n = req.creations.len();
    let resp = CreateAclsResponse::default();
    if !az.cluster(op::ALTER) {
        let r = AclCreationResult::default()
            .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
            .with_error_message(Some(s(DENIED)));
        return resp.with_results(vec![r; n]);
    }
    let mut results: Vec<AclCreationResult> = Vec::with_capacity(n);
    let mut valid = Vec::new();
    for c in &req.creations {
        let b = Binding {
            resource_type: c.resource_type,
            name: c.resource_name.to_string(),
            pattern: c.resource_pattern_type,
            principal: c.principal.to_string(),
            host: c.host.to_string(),
            operation: c.operation,
            permission: c.permission_type,
        };
        match acl::validate(&b) {
            Ok(()) => {
                valid.push((results.len(), b));
                results.push(AclCreationResult::default().with_error_code(errors::NONE));
            }
            Err(e) => results.push(
                AclCreationResult::default()
                    .with_error_code(errors::INVALID_REQUEST)
                    .with_error_message(Some(s(&e))),
            ),
        }
    }
    if !valid.is_empty() {
        let c = ctx.clone();
        let bindings: Vec<Binding> = valid.iter().map(|(_, b)| b.clone()).collect();
        let written = tokio::task::spawn_blocking(move || c.acls.create(&bindings)).await;
        let failure = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(e) => Some(format!("ACL task failed: {e}")),
        };
        if let Some(e) = failure {
            for (i, _) in &valid {
                if let Some(r) = results.get_mut(*i) {
                    *r = AclCreationResult::default()
                        .with_error_code(errors::UNKNOWN_SERVER_ERROR)
                        .with_error_message(Some(s(&e)));
                }
            }
        }
    }
    resp.with_results(results)
}

pub async fn delete(az: &Authz<'_>, ctx: &Arc<Ctx>, req: DeleteAclsRequest) -> DeleteAclsResponse {
    let resp = DeleteAclsResponse::default();
    let n = req.filters.len();
    if !az.cluster(op::ALTER) {
        let r = DeleteAclsFilterResult::default()
            .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
            .with_error_message(Some(s(DENIED)));
        return resp.with_filter_results(vec![r; n]);
    }
    let filters: Vec<Filter> = req
        .filters
        .iter()
        .map(|f| Filter {
            resource_type: f.resource_type_filter,
            name: opt(&f.resource_name_filter),
            pattern: f.pattern_type_filter,
            principal: opt(&f.principal_filter),
            host: opt(&f.host_filter),
            operation: f.operation,
            permission: f.permission_type,
        })
        .collect();
    // An invalid filter fails alone; the others still delete.
    let invalid: Vec<Option<String>> = filters
        .iter()
        .map(|f| acl::validate_filter(f).err())
        .collect();
    let usable: Vec<Filter> = filters
        .iter()
        .zip(&invalid)
        .filter(|(_, e)| e.is_none())
        .map(|(f, _)| f.clone())
        .collect();
    let c = ctx.clone();
    let deleted = match tokio::task::spawn_blocking(move || c.acls.delete(&usable)).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(format!("ACL task failed: {e}")),
    };
    let mut deleted = match deleted {
        Ok(d) => d.into_iter(),
        Err(e) => {
            let r = DeleteAclsFilterResult::default()
                .with_error_code(errors::UNKNOWN_SERVER_ERROR)
                .with_error_message(Some(s(&e)));
            return resp.with_filter_results(vec![r; n]);
        }
    };
    let results = invalid
        .into_iter()
        .map(|e| match e {
            Some(e) => DeleteAclsFilterResult::default()
                .with_error_code(errors::INVALID_REQUEST)
                .with_error_message(Some(s(&e))),
            None => DeleteAclsFilterResult::default()
                .with_error_code(errors::NONE)
                .with_matching_acls(
                    deleted
                        .next()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|b| {
                            DeleteAclsMatchingAcl::default()
                                .with_error_code(errors::NONE)
                                .with_resource_type(b.resource_type)
                                .with_resource_name(s(&b.name))
                                .with_pattern_type(b.pattern)
                                .with_principal(s(&b.principal))
                                .with_host(s(&b.host))
                                .with_operation(b.operation)
                                .with_permission_type(b.permission)
                        })
                        .collect(),
                ),
        })
        .collect();
    resp.with_filter_results(results)
}
