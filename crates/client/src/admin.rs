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

/// One topic for [`Client::create_topics`].
#[derive(Clone, Debug, Default)]
pub struct NewTopic {
    /// The topic's name (Kafka's rules: at most 249 of `[a-zA-Z0-9._-]`; the
    /// broker answers INVALID_TOPIC_EXCEPTION, 17, otherwise).
    pub name: String,
    /// -1: the broker's `num.partitions`.
    pub num_partitions: i32,
    /// -1: the broker's `default.replication.factor`.
    pub replication_factor: i16,
    /// Topic configs to set at creation (`("retention.ms", "86400000")`); the
    /// broker's defaults for the rest.
    pub configs: Vec<(String, String)>,
}

/// The outcome for one named thing (topic, resource, group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedResult {
    /// The topic, resource or group name the outcome is for.
    pub name: String,
    /// Kafka's error code for it; 0 when it succeeded.
    pub error_code: i16,
    /// The broker's message for the error, when it sent one.
    pub error_message: Option<String>,
}

/// Kafka's config resource type for a topic (the resource name is the topic's).
pub const RESOURCE_TOPIC: i8 = 2;
/// Kafka's config resource type for a broker: the name is the broker's node id
/// (the request goes to that broker), or empty for the cluster-wide default.
pub const RESOURCE_BROKER: i8 = 4;

/// One resource for [`Client::describe_configs`].
#[derive(Clone, Debug)]
pub struct ConfigResource {
    /// [`RESOURCE_TOPIC`] or [`RESOURCE_BROKER`] (Kafka's codes; 8 is a broker's loggers).
    pub resource_type: i8,
    /// The topic's name, or the broker's node id in decimal.
    pub name: String,
    /// `None`: every key.
    pub keys: Option<Vec<String>>,
}

/// One config key of a described resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The config key (`retention.ms`).
    pub name: String,
    /// Its value as text; `None` when the broker hides it (a sensitive key) or it
    /// has none.
    pub value: Option<String>,
    /// Whether it cannot be changed with AlterConfigs.
    pub read_only: bool,
    /// Kafka's ConfigSource (1 dynamic topic, 4 static broker, 5 default, ...).
    pub config_source: i8,
    /// Whether the value is Kafka's default (`config_source` 5).
    pub is_default: bool,
    /// Whether the key holds a secret (a password), whose value is not sent.
    pub is_sensitive: bool,
}

/// (resource type, resource name, [(key, value or None to remove)]).
pub type AlterConfigsResourceInput = (i8, String, Vec<(String, Option<String>)>);

/// One resource's answer to [`Client::describe_configs`].
#[derive(Clone, Debug)]
pub struct ConfigResourceResult {
    /// The resource type asked for ([`RESOURCE_TOPIC`], [`RESOURCE_BROKER`]).
    pub resource_type: i8,
    /// The resource's name as asked for.
    pub name: String,
    /// Kafka's error code for the resource (e.g. UNKNOWN_TOPIC_OR_PARTITION, 3); 0
    /// when described.
    pub error_code: i16,
    /// The broker's message for the error, when it sent one.
    pub error_message: Option<String>,
    /// The keys asked for (all of them when `keys` was `None`); empty on error.
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

    /// CreateTopics, sent to the controller (retried on NOT_CONTROLLER): one result
    /// per topic, in the broker's order, with e.g. TOPIC_ALREADY_EXISTS (36),
    /// INVALID_PARTITIONS (37) or INVALID_REPLICATION_FACTOR (38). `timeout_ms` is how
    /// long the controller may wait for the topics to be created; `validate_only`
    /// checks without creating. The metadata of the topics is refreshed after.
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

    /// DeleteTopics by name, sent to the controller (retried on NOT_CONTROLLER): one
    /// result per topic, e.g. UNKNOWN_TOPIC_OR_PARTITION (3) for a missing one.
    /// `timeout_ms` is how long the controller may wait for the deletion to complete.
    /// The cached metadata is refreshed after.
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

    /// AlterConfigs (replaces the resource's whole dynamic config, as Kafka's AlterConfigs
    /// does).
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
    /// 2 topic, 3 group, 4 cluster, 5 transactional id, 6 delegation token, 7 user.
    pub resource_type: i8,
    /// The resource's name (`kafka-cluster` for the cluster), or its prefix.
    pub resource_name: String,
    /// 3 literal (`*` is any name), 4 prefixed.
    pub pattern_type: i8,
    /// Whom it applies to, as `User:alice` (`User:*` for anyone).
    pub principal: String,
    /// The client host it applies to; `*` for any.
    pub host: String,
    /// 2 all, 3 read, 4 write, 5 create, 6 delete, 7 alter, 8 describe, 9 cluster
    /// action, 10 describe configs, 11 alter configs, 12 idempotent write.
    pub operation: i8,
    /// 2 deny, 3 allow.
    pub permission_type: i8,
}

/// A filter over bindings: None matches any name, principal or host; the
/// codes take Kafka's ANY (1) and, for the pattern type, MATCH (2).
#[derive(Clone, Debug, Default)]
pub struct AclFilter {
    /// An [`AclBinding::resource_type`], or 1 for any.
    pub resource_type: i8,
    /// The resource name to match (as `pattern_type` says); `None` for any.
    pub resource_name: Option<String>,
    /// An [`AclBinding::pattern_type`], 1 for any, or 2 (MATCH) for every binding
    /// that applies to `resource_name` (literal, `*` and matching prefixes).
    pub pattern_type: i8,
    /// The principal to match (`User:alice`); `None` for any.
    pub principal: Option<String>,
    /// The host to match; `None` for any.
    pub host: Option<String>,
    /// An [`AclBinding::operation`], or 1 for any.
    pub operation: i8,
    /// An [`AclBinding::permission_type`], or 1 for any.
    pub permission_type: i8,
}

/// One DeleteAcls filter's outcome: its error, and the bindings it removed.
#[derive(Clone, Debug)]
pub struct DeleteAclsResult {
    /// Kafka's error code for the filter (e.g. CLUSTER_AUTHORIZATION_FAILED, 31);
    /// 0 when applied.
    pub error_code: i16,
    /// The broker's message for the error, when it sent one.
    pub error_message: Option<String>,
    /// The bindings the filter matched and removed.
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
