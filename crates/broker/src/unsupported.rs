//! The answer to a request for an API that Apache Kafka defines but this
//! broker does not implement: that API's own response, at the version
//! asked for, with UNSUPPORTED_VERSION (35) in its error field, as Kafka's
//! `AbstractRequest.getErrorResponse` builds for an
//! UnsupportedVersionException. The connection stays open.
//!
//! This covers the APIs a client of a Kafka broker may send: transactions
//! (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit,
//! DescribeTransactions, ListTransactions), OffsetForLeaderEpoch, the
//! KIP-848 consumer group APIs (ConsumerGroupHeartbeat and
//! ConsumerGroupDescribe), DescribeTopicPartitions, and the KRaft quorum's
//! DescribeQuorum and Vote. Responses with a top-level error code carry it
//! there; the others get it per item of the request. Each API answered
//! this way links its response encoder into the addon, whose size is
//! budgeted (test/package.test.ts), so the remaining APIs (controller and
//! inter-broker APIs, share groups, delegation tokens, quotas, SCRAM
//! credential admin, log dirs, reassignments, telemetry) return None and
//! close the connection, as Kafka's broker does for an API not enabled on
//! its listener; so do keys Kafka does not define and versions
//! kafka-protocol cannot encode (see dispatch).

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::errors::UNSUPPORTED_VERSION;
use crate::splice::ResponseBuf;

/// The encoded response (size prefix and parts), or None when `key` is not
/// one of the APIs answered this way.
pub fn respond(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    mut body: Bytes,
) -> Option<Result<Vec<Bytes>, String>> {
    macro_rules! top {
        ($($k:ident => $t:ty),* $(,)?) => {
            match key {
                $(ApiKey::$k => {
                    let mut r = <$t>::default();
                    r.error_code = UNSUPPORTED_VERSION;
                    return Some(encode(key, version, correlation_id, &r));
                })*
                _ => {}
            }
        };
    }
    top! {
        AddPartitionsToTxn => AddPartitionsToTxnResponse,
        AddOffsetsToTxn => AddOffsetsToTxnResponse,
        EndTxn => EndTxnResponse,
        ListTransactions => ListTransactionsResponse,
        ConsumerGroupHeartbeat => ConsumerGroupHeartbeatResponse,
        DescribeQuorum => DescribeQuorumResponse,
        Vote => VoteResponse,
    }
    // Per-item answers need the request's items; a body that does not
    // decode gets the item-less response.
    macro_rules! items {
        ($req:ty, $resp:ty, $fill:expr) => {{
            let r = match <$req>::decode(&mut body, version) {
                Ok(req) => $fill(req),
                Err(_) => <$resp>::default(),
            };
            Some(encode(key, version, correlation_id, &r))
        }};
    }
    match key {
        ApiKey::OffsetForLeaderEpoch => items!(
            OffsetForLeaderEpochRequest,
            OffsetForLeaderEpochResponse,
            |req: OffsetForLeaderEpochRequest| {
                use offset_for_leader_epoch_response::*;
                OffsetForLeaderEpochResponse::default().with_topics(
                    req.topics
                        .into_iter()
                        .map(|t| {
                            OffsetForLeaderTopicResult::default()
                                .with_topic(t.topic)
                                .with_partitions(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            EpochEndOffset::default()
                                                .with_partition(p.partition)
                                                .with_error_code(UNSUPPORTED_VERSION)
                                                .with_leader_epoch(-1)
                                                .with_end_offset(-1)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
            }
        ),
        ApiKey::TxnOffsetCommit => items!(
            TxnOffsetCommitRequest,
            TxnOffsetCommitResponse,
            |req: TxnOffsetCommitRequest| {
                use txn_offset_commit_response::*;
                TxnOffsetCommitResponse::default().with_topics(
                    req.topics
                        .into_iter()
                        .map(|t| {
                            TxnOffsetCommitResponseTopic::default()
                                .with_name(t.name)
                                .with_partitions(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            TxnOffsetCommitResponsePartition::default()
                                                .with_partition_index(p.partition_index)
                                                .with_error_code(UNSUPPORTED_VERSION)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
            }
        ),
        ApiKey::DescribeTransactions => items!(
            DescribeTransactionsRequest,
            DescribeTransactionsResponse,
            |req: DescribeTransactionsRequest| {
                use describe_transactions_response::*;
                DescribeTransactionsResponse::default().with_transaction_states(
                    req.transactional_ids
                        .into_iter()
                        .map(|id| {
                            TransactionState::default()
                                .with_transactional_id(id)
                                .with_error_code(UNSUPPORTED_VERSION)
                        })
                        .collect(),
                )
            }
        ),
        ApiKey::ConsumerGroupDescribe => items!(
            ConsumerGroupDescribeRequest,
            ConsumerGroupDescribeResponse,
            |req: ConsumerGroupDescribeRequest| {
                use consumer_group_describe_response::*;
                ConsumerGroupDescribeResponse::default().with_groups(
                    req.group_ids
                        .into_iter()
                        .map(|id| {
                            DescribedGroup::default()
                                .with_group_id(id)
                                .with_error_code(UNSUPPORTED_VERSION)
                        })
                        .collect(),
                )
            }
        ),
        ApiKey::DescribeTopicPartitions => items!(
            DescribeTopicPartitionsRequest,
            DescribeTopicPartitionsResponse,
            |req: DescribeTopicPartitionsRequest| {
                use describe_topic_partitions_response::*;
                DescribeTopicPartitionsResponse::default().with_topics(
                    req.topics
                        .into_iter()
                        .map(|t| {
                            DescribeTopicPartitionsResponseTopic::default()
                                .with_name(Some(t.name))
                                .with_error_code(UNSUPPORTED_VERSION)
                        })
                        .collect(),
                )
            }
        ),
        _ => None,
    }
}

fn encode<T: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
) -> Result<Vec<Bytes>, String> {
    let mut buf = ResponseBuf::new(Default::default());
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, key.response_header_version(version))
        .map_err(|e| e.to_string())?;
    body.encode(&mut buf, version).map_err(|e| e.to_string())?;
    let len = i32::try_from(buf.len()).map_err(|_| "response longer than 2 GiB".to_string())?;
    let mut parts = vec![Bytes::copy_from_slice(&len.to_be_bytes())];
    parts.extend(buf.finish());
    Ok(parts)
}
