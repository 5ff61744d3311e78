//! CreateTopics, DeleteTopics, CreatePartitions. One broker: replication
//! factor 1 (or -1, the default), replica assignments may name only it.

use std::sync::Arc;

use ferrolog_engine::{Error, TopicConfig};
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{blocking, Ctx};
use crate::errors;
use crate::topic_id::{topic_id, topic_name};

fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

type Failure = (i16, String);

fn engine_failure(e: &Error) -> Failure {
    (errors::code_of(e), errors::message_of(e))
}

/// For creating topics and partitions, where the name is checked first and
/// the only argument left for the engine to refuse is the partition count.
fn count_failure(e: &Error) -> Failure {
    match e {
        Error::InvalidArgument(m) => (errors::INVALID_PARTITIONS, m.clone()),
        e => engine_failure(e),
    }
}

fn only_this_broker(ctx: &Ctx, ids: &[kafka_protocol::messages::BrokerId]) -> bool {
    ids.len() == 1 && ids[0].0 == ctx.config.node_id
}

pub async fn create_topics(
    ctx: &Arc<Ctx>,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.0.to_string();
        let mut result = CreatableTopicResult::default().with_name(t.name.clone());
        let partitions = if t.num_partitions == -1 {
            if t.assignments.is_empty() {
                Ok(ctx.config.num_partitions)
            } else {
                Ok(t.assignments.len() as u32)
            }
        } else {
            u32::try_from(t.num_partitions)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    (
                        errors::INVALID_PARTITIONS,
                        format!("{} partitions: a topic needs at least 1", t.num_partitions),
                    )
                })
        };
        let checked: Result<(u32, TopicConfig), Failure> = partitions.and_then(|n| {
            if t.replication_factor != -1 && t.replication_factor != 1 {
                return Err((
                    errors::INVALID_REPLICATION_FACTOR,
                    format!(
                        "replication factor {} is larger than the 1 broker there is",
                        t.replication_factor
                    ),
                ));
            }
            if !t
                .assignments
                .iter()
                .all(|a| only_this_broker(ctx, &a.broker_ids))
            {
                return Err((
                    errors::INVALID_REPLICA_ASSIGNMENT,
                    format!(
                        "assignments may name only broker {}, once",
                        ctx.config.node_id
                    ),
                ));
            }
            let mut config = ctx.engine.default_topic_config().clone();
            let mut entries: Vec<(String, String)> = t
                .configs
                .iter()
                .filter_map(|c| {
                    c.value
                        .as_ref()
                        .map(|v| (c.name.to_string(), v.to_string()))
                })
                .collect();
            entries.sort_by_key(|(k, _)| (k != "flush", k.clone()));
            for (k, v) in entries {
                config.set(&k, &v).map_err(|e| engine_failure(&e))?;
            }
            ferrolog_engine::validate_topic_name(&name)
                .map_err(|e| (errors::INVALID_TOPIC_EXCEPTION, errors::message_of(&e)))?;
            Ok((n, config))
        });
        let outcome = match checked {
            Err(f) => Err(f),
            Ok((n, config)) => {
                if req.validate_only {
                    if ctx.engine.topic(&name).is_ok() {
                        Err(engine_failure(&Error::TopicExists(name.clone())))
                    } else {
                        Ok((n, config))
                    }
                } else {
                    let engine = ctx.engine.clone();
                    let owned = name.clone();
                    let c = config.clone();
                    blocking(move || engine.create_topic(&owned, n, Some(c)))
                        .await
                        .map(|()| (n, config))
                        .map_err(|e| count_failure(&e))
                }
            }
        };
        match outcome {
            Ok((n, config)) => {
                result = result
                    .with_error_code(errors::NONE)
                    .with_topic_id(topic_id(&name));
                if version >= 5 {
                    result = result
                        .with_num_partitions(n as i32)
                        .with_replication_factor(1)
                        .with_configs(Some(
                            config
                                .entries()
                                .into_iter()
                                .map(|(k, v)| {
                                    CreatableTopicConfigs::default()
                                        .with_name(s(k))
                                        .with_value(Some(s(v)))
                                        .with_config_source(5)
                                })
                                .collect(),
                        ));
                }
            }
            Err((code, message)) => {
                result = result
                    .with_error_code(code)
                    .with_error_message(Some(s(message)));
                if version >= 5 {
                    result = result.with_num_partitions(-1).with_replication_factor(-1);
                }
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

pub async fn delete_topics(
    ctx: &Arc<Ctx>,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    // v6 names topics by name or id; earlier versions by name only.
    let wanted: Vec<(Option<String>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n.0.to_string()), Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let resolved = match &name {
            Some(n) => Some(n.clone()),
            None => topic_name(&ctx.engine, id),
        };
        let mut r = DeletableTopicResult::default()
            .with_name(resolved.clone().map(|n| TopicName(s(n))))
            .with_topic_id(id);
        match resolved {
            None => {
                r = r.with_error_code(errors::UNKNOWN_TOPIC_ID);
            }
            Some(n) => {
                let engine = ctx.engine.clone();
                match blocking(move || engine.delete_topic(&n)).await {
                    Ok(()) => r = r.with_error_code(errors::NONE),
                    Err(e) => {
                        r = r.with_error_code(errors::code_of(&e));
                        if version >= 5 {
                            r = r.with_error_message(Some(s(errors::message_of(&e))));
                        }
                    }
                }
            }
        }
        responses.push(r);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

pub async fn create_partitions(
    ctx: &Arc<Ctx>,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.0.to_string();
        let outcome: Result<(), Failure> = (|| {
            let topic = ctx.engine.topic(&name).map_err(|e| engine_failure(&e))?;
            let count = u32::try_from(t.count).map_err(|_| {
                (
                    errors::INVALID_PARTITIONS,
                    format!("{} partitions is not a count", t.count),
                )
            })?;
            let current = topic.partition_count();
            if count <= current {
                return Err((
                    errors::INVALID_PARTITIONS,
                    format!("topic `{name}` has {current} partitions; the new count must be larger, not {count}"),
                ));
            }
            if let Some(a) = t.assignments.as_ref().filter(|a| !a.is_empty()) {
                if a.len() as u32 != count - current
                    || !a.iter().all(|x| only_this_broker(ctx, &x.broker_ids))
                {
                    return Err((
                        errors::INVALID_REPLICA_ASSIGNMENT,
                        "assignments must name this broker once per new partition".to_string(),
                    ));
                }
            }
            Ok(())
        })();
        let outcome = match outcome {
            Ok(()) if !req.validate_only => {
                let engine = ctx.engine.clone();
                let owned = name.clone();
                let count = t.count as u32;
                blocking(move || engine.create_partitions(&owned, count))
                    .await
                    .map_err(|e| count_failure(&e))
            }
            other => other,
        };
        let (code, message) = match outcome {
            Ok(()) => (errors::NONE, None),
            Err((c, m)) => (c, Some(s(m))),
        };
        results.push(
            CreatePartitionsTopicResult::default()
                .with_name(t.name)
                .with_error_code(code)
                .with_error_message(message),
        );
    }
    CreatePartitionsResponse::default().with_results(results)
}
