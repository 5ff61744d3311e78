//! Admin APIs: topics, partitions, configs. Sent to the controller (KRaft brokers
//! forward them), retried on NOT_CONTROLLER and connection loss.

use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    AlterConfigsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest,
};
use kafka_protocol::protocol::Request;

use crate::client::{name, opt_string, sb, Client};
use crate::conn::Connection;
use crate::error::{codes, Error, Result};
use std::sync::Arc;

// Partition reassignment, in its own file (a child module: it shares `admin`'s retry loop).
#[path = "admin_ops.rs"]
pub(crate) mod admin_ops;

#[derive(Clone, Debug, Default)]
pub struct NewTopic {
    pub name: String,
    /// -1: the broker's `num.partitions`.
    pub num_partitions: i32,
    /// -1: the broker's `default.replication.factor`.
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// The outcome for one named thing (topic, resource, group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedResult {
    pub name: String,
    pub error_code: i16,
    pub error_message: Option<String>,
}

/// Kafka's config resource types.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

#[derive(Clone, Debug)]
pub struct ConfigResource {
    pub resource_type: i8,
    pub name: String,
    /// `None`: every key.
    pub keys: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub read_only: bool,
    /// Kafka's ConfigSource (1 dynamic topic, 4 static broker, 5 default, ...).
    pub config_source: i8,
    pub is_default: bool,
    pub is_sensitive: bool,
}

/// (resource type, resource name, [(key, value or None to remove)]).
pub type AlterConfigsResourceInput = (i8, String, Vec<(String, Option<String>)>);

#[derive(Clone, Debug)]
pub struct ConfigResourceResult {
    pub resource_type: i8,
    pub name: String,
    pub error_code: i16,
    pub error_message: Option<String>,
    pub entries: Vec<ConfigEntry>,
}

impl Client {
    /// Sends an admin request to `pick`'s connection, retrying on connection loss and
    /// on the codes `retry` finds in the response (after a metadata refresh).
    async fn admin<R: Request, F, P>(
        &self,
        pick: P,
        build: impl Fn(i16) -> R,
        retry: F,
    ) -> Result<R::Response>
    where
        F: Fn(&R::Response) -> bool,
        P: AsyncPick,
    {
        let mut last = Error::Connection("no broker reachable".to_string());
        for attempt in 0..=self.config().retries {
            if attempt > 0 {
                self.backoff(attempt - 1).await;
                let _ = self.refresh_metadata(&[]).await;
            }
            let conn = match pick.pick(self).await {
                Ok(c) => c,
                Err(e) if e.is_retriable() => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let v = conn.version::<R>(i16::MAX)?;
            match conn.send(&build(v), v).await {
                Ok(r) if retry(&r) => {
                    last = Error::kafka(codes::NOT_CONTROLLER, "retriable admin error")
                }
                Ok(r) => return Ok(r),
                Err(e) if e.is_retriable() => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    pub async fn create_topics(
        &self,
        topics: Vec<NewTopic>,
        timeout_ms: i32,
        validate_only: bool,
    ) -> Result<Vec<NamedResult>> {
        let build = |_v: i16| {
            CreateTopicsRequest::default()
                .with_timeout_ms(timeout_ms)
                .with_validate_only(validate_only)
                .with_topics(
                    topics
                        .iter()
                        .map(|t| {
                            CreatableTopic::default()
                                .with_name(name(&t.name))
                                .with_num_partitions(t.num_partitions)
                                .with_replication_factor(t.replication_factor)
                                .with_configs(
                                    t.configs
                                        .iter()
                                        .map(|(k, v)| {
                                            CreatableTopicConfig::default()
                                                .with_name(sb(k))
                                                .with_value(Some(sb(v)))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
        };
        let resp = self
            .admin(Pick::Controller, build, |r| {
                r.topics
                    .iter()
                    .any(|t| t.error_code == codes::NOT_CONTROLLER)
            })
            .await?;
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        let _ = self.refresh_metadata(&names).await;
        Ok(resp
            .topics
            .into_iter()
            .map(|t| NamedResult {
                name: t.name.0.to_string(),
                error_code: t.error_code,
                error_message: opt_string(&t.error_message),
            })
            .collect())
    }

    pub async fn delete_topics(
        &self,
        topics: Vec<String>,
        timeout_ms: i32,
    ) -> Result<Vec<NamedResult>> {
        let build = |v: i16| {
            let req = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
            if v >= 6 {
                req.with_topics(
                    topics
                        .iter()
                        .map(|t| DeleteTopicState::default().with_name(Some(name(t))))
                        .collect(),
                )
            } else {
                req.with_topic_names(topics.iter().map(|t| name(t)).collect())
            }
        };
        let resp = self
            .admin(Pick::Controller, build, |r| {
                r.responses
                    .iter()
                    .any(|t| t.error_code == codes::NOT_CONTROLLER)
            })
            .await?;
        let _ = self.refresh_metadata(&[]).await;
        Ok(resp
            .responses
            .into_iter()
            .map(|t| NamedResult {
                name: t.name.map(|n| n.0.to_string()).unwrap_or_default(),
                error_code: t.error_code,
                error_message: opt_string(&t.error_message),
            })
            .collect())
    }

    /// Raises each topic's partition count to `count`.
    pub async fn create_partitions(
        &self,
        topics: Vec<(String, i32)>,
        timeout_ms: i32,
        validate_only: bool,
    ) -> Result<Vec<NamedResult>> {
        let build = |_v: i16| {
            CreatePartitionsRequest::default()
                .with_timeout_ms(timeout_ms)
                .with_validate_only(validate_only)
                .with_topics(
                    topics
                        .iter()
                        .map(|(t, n)| {
                            CreatePartitionsTopic::default()
                                .with_name(name(t))
                                .with_count(*n)
                                .with_assignments(None)
                        })
                        .collect(),
                )
        };
        let resp = self
            .admin(Pick::Controller, build, |r| {
                r.results
                    .iter()
                    .any(|t| t.error_code == codes::NOT_CONTROLLER)
            })
            .await?;
        let names: Vec<String> = topics.iter().map(|t| t.0.clone()).collect();
        let _ = self.refresh_metadata(&names).await;
        Ok(resp
            .results
            .into_iter()
            .map(|t| NamedResult {
                name: t.name.0.to_string(),
                error_code: t.error_code,
                error_message: opt_string(&t.error_message),
            })
            .collect())
    }

    /// DescribeConfigs. A broker resource goes to that broker; topics to any broker.
    pub async fn describe_configs(
        &self,
        resources: Vec<ConfigResource>,
        include_synonyms: bool,
    ) -> Result<Vec<ConfigResourceResult>> {
        let mut out = Vec::new();
        for group in split_by_broker(&resources, |r| (r.resource_type, &r.name)) {
            let pick = group.0;
            let rs: Vec<&ConfigResource> = group.1.iter().map(|&i| &resources[i]).collect();
            let build = |v: i16| {
                let mut req = DescribeConfigsRequest::default().with_resources(
                    rs.iter()
                        .map(|r| {
                            DescribeConfigsResource::default()
                                .with_resource_type(r.resource_type)
                                .with_resource_name(sb(&r.name))
                                .with_configuration_keys(
                                    r.keys.as_ref().map(|ks| ks.iter().map(|k| sb(k)).collect()),
                                )
                        })
                        .collect(),
                );
                if v >= 1 {
                    req = req.with_include_synonyms(include_synonyms);
                }
                req
            };
            let resp = self.admin(pick, build, |_| false).await?;
            for r in resp.results {
                out.push(ConfigResourceResult {
                    resource_type: r.resource_type,
                    name: r.resource_name.to_string(),
                    error_code: r.error_code,
                    error_message: opt_string(&r.error_message),
                    entries: r
                        .configs
                        .into_iter()
                        .map(|c| ConfigEntry {
                            name: c.name.to_string(),
                            value: opt_string(&c.value),
                            read_only: c.read_only,
                            config_source: c.config_source,
                            is_default: c.config_source == 5,
                            is_sensitive: c.is_sensitive,
                        })
                        .collect(),
                });
            }
        }
        Ok(out)
    }

    /// AlterConfigs (replaces the resource's whole dynamic config, as Kafka's AlterConfigs does).
    pub async fn alter_configs(
        &self,
        resources: Vec<AlterConfigsResourceInput>,
        validate_only: bool,
    ) -> Result<Vec<NamedResult>> {
        let mut out = Vec::new();
        for (pick, idx) in split_by_broker(&resources, |r| (r.0, &r.1)) {
            let build = |_v: i16| {
                AlterConfigsRequest::default()
                    .with_validate_only(validate_only)
                    .with_resources(
                        idx.iter()
                            .map(|&i| {
                                let (ty, n, cs) = &resources[i];
                                AlterConfigsResource::default()
                                    .with_resource_type(*ty)
                                    .with_resource_name(sb(n))
                                    .with_configs(
                                        cs.iter()
                                            .map(|(k, v)| {
                                                AlterableConfig::default()
                                                    .with_name(sb(k))
                                                    .with_value(v.as_deref().map(sb))
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    )
            };
            let resp = self.admin(pick, build, |_| false).await?;
            out.extend(resp.responses.into_iter().map(|r| NamedResult {
                name: r.resource_name.to_string(),
                error_code: r.error_code,
                error_message: opt_string(&r.error_message),
            }));
        }
        Ok(out)
    }
}

/// Where an admin request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    Controller,
    Any,
    Node(i32),
}

pub(crate) trait AsyncPick {
    fn pick(&self, c: &Client)
        -> impl std::future::Future<Output = Result<Arc<Connection>>> + Send;
}

impl AsyncPick for Pick {
    async fn pick(&self, c: &Client) -> Result<Arc<Connection>> {
        match *self {
            Pick::Controller => c.controller_conn().await,
            Pick::Any => c.any_conn().await,
            Pick::Node(n) => c.conn_node(n).await,
        }
    }
}

/// Groups config resources by where they must go: a broker resource to that broker.
fn split_by_broker<T>(items: &[T], key: impl Fn(&T) -> (i8, &String)) -> Vec<(Pick, Vec<usize>)> {
    let mut out: Vec<(Pick, Vec<usize>)> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let (ty, n) = key(it);
        let pick = match (ty, n.parse::<i32>()) {
            (RESOURCE_BROKER, Ok(id)) => Pick::Node(id),
            _ => Pick::Any,
        };
        match out.iter_mut().find(|(p, _)| *p == pick) {
            Some((_, v)) => v.push(i),
            None => out.push((pick, vec![i])),
        }
    }
    out
}

// ---- ACLs (DescribeAcls, CreateAcls, DeleteAcls), sent to any broker ----

/// One ACL binding, in Kafka's codes (resource type, pattern type,
/// operation, permission type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclBinding {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission_type: i8,
}

/// A filter over bindings: None matches any name, principal or host; the
/// codes take Kafka's ANY (1) and, for the pattern type, MATCH (2).
#[derive(Clone, Debug, Default)]
pub struct AclFilter {
    pub resource_type: i8,
    pub resource_name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission_type: i8,
}

/// One DeleteAcls filter's outcome: its error, and the bindings it removed.
#[derive(Clone, Debug)]
pub struct DeleteAclsResult {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub matching: Vec<AclBinding>,
}

impl Client {
    /// DescribeAcls: the bindings `filter` matches; the broker's error
    /// (e.g. CLUSTER_AUTHORIZATION_FAILED) as an error.
    pub async fn describe_acls(&self, filter: AclFilter) -> Result<Vec<AclBinding>> {
        use kafka_protocol::messages::DescribeAclsRequest;
        let build = |_v: i16| {
            DescribeAclsRequest::default()
                .with_resource_type_filter(filter.resource_type)
                .with_resource_name_filter(filter.resource_name.as_deref().map(sb))
                .with_pattern_type_filter(filter.pattern_type)
                .with_principal_filter(filter.principal.as_deref().map(sb))
                .with_host_filter(filter.host.as_deref().map(sb))
                .with_operation(filter.operation)
                .with_permission_type(filter.permission_type)
        };
        let resp = self.admin(Pick::Any, build, |_| false).await?;
        if resp.error_code != codes::NONE {
            return Err(Error::kafka(
                resp.error_code,
                opt_string(&resp.error_message).unwrap_or_default(),
            ));
        }
        Ok(resp
            .resources
            .into_iter()
            .flat_map(|r| {
                let (rt, name, pt) = (r.resource_type, r.resource_name.to_string(), r.pattern_type);
                r.acls.into_iter().map(move |a| AclBinding {
                    resource_type: rt,
                    resource_name: name.clone(),
                    pattern_type: pt,
                    principal: a.principal.to_string(),
                    host: a.host.to_string(),
                    operation: a.operation,
                    permission_type: a.permission_type,
                })
            })
            .collect())
    }

    /// CreateAcls: one (error code, message) per binding, in order.
    pub async fn create_acls(&self, acls: Vec<AclBinding>) -> Result<Vec<NamedResult>> {
        use kafka_protocol::messages::create_acls_request::AclCreation;
        use kafka_protocol::messages::CreateAclsRequest;
        let build = |_v: i16| {
            CreateAclsRequest::default().with_creations(
                acls.iter()
                    .map(|a| {
                        AclCreation::default()
                            .with_resource_type(a.resource_type)
                            .with_resource_name(sb(&a.resource_name))
                            .with_resource_pattern_type(a.pattern_type)
                            .with_principal(sb(&a.principal))
                            .with_host(sb(&a.host))
                            .with_operation(a.operation)
                            .with_permission_type(a.permission_type)
                    })
                    .collect(),
            )
        };
        let resp = self.admin(Pick::Any, build, |_| false).await?;
        Ok(resp
            .results
            .iter()
            .zip(&acls)
            .map(|(r, a)| NamedResult {
                name: a.resource_name.clone(),
                error_code: r.error_code,
                error_message: opt_string(&r.error_message),
            })
            .collect())
    }

    /// DeleteAcls: per filter, its error and the bindings it removed.
    pub async fn delete_acls(&self, filters: Vec<AclFilter>) -> Result<Vec<DeleteAclsResult>> {
        use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
        use kafka_protocol::messages::DeleteAclsRequest;
        let build = |_v: i16| {
            DeleteAclsRequest::default().with_filters(
                filters
                    .iter()
                    .map(|f| {
                        DeleteAclsFilter::default()
                            .with_resource_type_filter(f.resource_type)
                            .with_resource_name_filter(f.resource_name.as_deref().map(sb))
                            .with_pattern_type_filter(f.pattern_type)
                            .with_principal_filter(f.principal.as_deref().map(sb))
                            .with_host_filter(f.host.as_deref().map(sb))
                            .with_operation(f.operation)
                            .with_permission_type(f.permission_type)
                    })
                    .collect(),
            )
        };
        let resp = self.admin(Pick::Any, build, |_| false).await?;
        Ok(resp
            .filter_results
            .into_iter()
            .map(|r| DeleteAclsResult {
                error_code: r.error_code,
                error_message: opt_string(&r.error_message),
                matching: r
                    .matching_acls
                    .into_iter()
                    .map(|m| AclBinding {
                        resource_type: m.resource_type,
                        resource_name: m.resource_name.to_string(),
                        pattern_type: m.pattern_type,
                        principal: m.principal.to_string(),
                        host: m.host.to_string(),
                        operation: m.operation,
                        permission_type: m.permission_type,
                    })
                    .collect(),
            })
            .collect())
    }
}
