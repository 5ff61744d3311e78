//! DescribeConfigs, AlterConfigs, IncrementalAlterConfigs: topic configs
//! are the engine's (Kafka-named); broker configs are read-only.

use std::sync::Arc;

use ferrolog_engine::{Error, TopicConfig};
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{blocking, Ctx};
use crate::errors;

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
/// Kafka's ConfigSource values.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;
/// Kafka's ConfigType STRING: every value here is sent as its string form.
const TYPE_STRING: i8 = 2;

/// name, value, source, read-only
type Entry = (String, String, i8, bool);

fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

fn broker_entries(ctx: &Ctx) -> Vec<(&'static str, String)> {
    let c = &ctx.config;
    vec![
        (
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
        ),
        ("num.partitions", c.num_partitions.to_string()),
        ("socket.request.max.bytes", c.request_bytes_max.to_string()),
        ("max.connections", c.connections_max.to_string()),
        (
            "connections.max.idle.ms",
            c.idle_timeout.as_millis().to_string(),
        ),
        ("default.replication.factor", "1".to_string()),
        ("min.insync.replicas", "1".to_string()),
        ("broker.id", c.node_id.to_string()),
        ("node.id", c.node_id.to_string()),
    ]
}

fn wanted(keys: &Option<Vec<StrBytes>>, key: &str) -> bool {
    keys.as_ref()
        .is_none_or(|k| k.is_empty() || k.iter().any(|w| w.as_str() == key))
}

pub fn describe(ctx: &Ctx, req: &DescribeConfigsRequest) -> DescribeConfigsResponse {
    let defaults: Vec<(&str, String)> = ctx.engine.default_topic_config().entries();
    let mut results = Vec::with_capacity(req.resources.len());
    for r in &req.resources {
        let mut result = DescribeConfigsResult::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        let entries: Result<Vec<Entry>, (i16, String)> = match r.resource_type {
            RESOURCE_TOPIC => match ctx.engine.topic(r.resource_name.as_str()) {
                Ok(t) => Ok(t
                    .config()
                    .entries()
                    .into_iter()
                    .map(|(k, v)| {
                        let default = defaults.iter().any(|(dk, dv)| *dk == k && *dv == v);
                        let source = if default {
                            SOURCE_DEFAULT
                        } else {
                            SOURCE_TOPIC
                        };
                        (k.to_string(), v, source, false)
                    })
                    .collect()),
                Err(e) => Err((errors::code_of(&e), errors::message_of(&e))),
            },
            RESOURCE_BROKER => Ok(broker_entries(ctx)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v, SOURCE_STATIC_BROKER, true))
                .collect()),
            other => Err((
                errors::INVALID_REQUEST,
                format!("resource type {other} has no configs here (topics 2 and brokers 4 do)"),
            )),
        };
        match entries {
            Ok(list) => {
                result = result.with_error_code(errors::NONE).with_configs(
                    list.into_iter()
                        .filter(|(k, ..)| wanted(&r.configuration_keys, k))
                        .map(|(k, v, source, read_only)| {
                            DescribeConfigsResourceResult::default()
                                .with_name(s(k))
                                .with_value(Some(s(v)))
                                .with_read_only(read_only)
                                .with_config_source(source)
                                .with_config_type(TYPE_STRING)
                        })
                        .collect(),
                );
            }
            Err((code, message)) => {
                result = result
                    .with_error_code(code)
                    .with_error_message(Some(s(message)));
            }
        }
        results.push(result);
    }
    DescribeConfigsResponse::default().with_results(results)
}

/// `flush` first, so `flush.ms` given beside it refines it (as the binding does).
fn apply(
    mut config: TopicConfig,
    mut entries: Vec<(String, String)>,
) -> Result<TopicConfig, Error> {
    entries.sort_by_key(|(k, _)| (k != "flush", k.clone()));
    for (k, v) in entries {
        config.set(&k, &v)?;
    }
    Ok(config)
}

/// Operation codes of IncrementalAlterConfigs.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

enum Change {
    /// AlterConfigs: the given entries over the defaults (the rest revert).
    Replace(Vec<(String, String)>),
    /// IncrementalAlterConfigs: (op, key, value).
    Incremental(Vec<(i8, String, Option<String>)>),
}

async fn alter_one(
    ctx: &Arc<Ctx>,
    resource_type: i8,
    name: &str,
    change: Change,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    if resource_type == RESOURCE_BROKER {
        return Err((
            errors::INVALID_REQUEST,
            "broker configs are static: set them when starting the broker".to_string(),
        ));
    }
    if resource_type != RESOURCE_TOPIC {
        return Err((
            errors::INVALID_REQUEST,
            format!("resource type {resource_type} has no configs here"),
        ));
    }
    let topic = ctx
        .engine
        .topic(name)
        .map_err(|e| (errors::code_of(&e), errors::message_of(&e)))?;
    let defaults = ctx.engine.default_topic_config().clone();
    let next = match change {
        Change::Replace(entries) => apply(defaults, entries),
        Change::Incremental(ops) => {
            let default_entries = defaults.entries();
            let mut sets = Vec::new();
            for (op, k, v) in ops {
                match op {
                    OP_SET => sets.push((k, v.unwrap_or_default())),
                    OP_DELETE => {
                        if let Some((_, dv)) = default_entries.iter().find(|(dk, _)| *dk == k) {
                            sets.push((k, dv.clone()));
                        }
                    }
                    _ => {
                        return Err((
                            errors::INVALID_CONFIG,
                            format!("`{k}` is not a list: APPEND and SUBTRACT do not apply"),
                        ))
                    }
                }
            }
            apply((*topic.config()).clone(), sets)
        }
    }
    .map_err(|e| (errors::code_of(&e), errors::message_of(&e)))?;
    if validate_only {
        return Ok(());
    }
    let engine = ctx.engine.clone();
    let owned = name.to_string();
    blocking(move || engine.set_topic_config(&owned, next))
        .await
        .map_err(|e| (errors::code_of(&e), errors::message_of(&e)))
}

pub async fn alter(ctx: &Arc<Ctx>, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let entries = r
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| (c.name.to_string(), v.to_string()))
            })
            .collect();
        let result = alter_one(
            ctx,
            r.resource_type,
            r.resource_name.as_str(),
            Change::Replace(entries),
            req.validate_only,
        )
        .await;
        let (code, message) = match result {
            Ok(()) => (errors::NONE, None),
            Err((c, m)) => (c, Some(s(m))),
        };
        responses.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}

pub async fn incremental(
    ctx: &Arc<Ctx>,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let ops = r
            .configs
            .iter()
            .map(|c| {
                (
                    c.config_operation,
                    c.name.to_string(),
                    c.value.as_ref().map(|v| v.to_string()),
                )
            })
            .collect();
        let result = alter_one(
            ctx,
            r.resource_type,
            r.resource_name.as_str(),
            Change::Incremental(ops),
            req.validate_only,
        )
        .await;
        let (code, message) = match result {
            Ok(()) => (errors::NONE, None),
            Err((c, m)) => (c, Some(s(m))),
        };
        responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
