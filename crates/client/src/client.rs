//! The client: a pool of connections (one per broker address), a metadata cache,
//! and leader routing with metadata refresh and retries.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use uuid::Uuid;

use crate::config::ClientConfig;
use crate::conn::{tls_connector, Connection};
use crate::error::{codes, is_metadata_error, Error, Result};

pub(crate) fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

pub(crate) fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn poison<T>(r: std::sync::LockResult<T>) -> T {
    // The guarded maps are updated by whole-value assignments, never left half-done.
    r.unwrap_or_else(|e| e.into_inner())
}

/// A broker as Metadata (or FindCoordinator) describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerMeta {
    /// The broker's node id (`node.id`), as partitions name their leader and replicas.
    pub node_id: i32,
    /// The host the broker advertises for this listener.
    pub host: String,
    /// The port the broker advertises for this listener.
    pub port: i32,
    /// The broker's `broker.rack`; `None` when unset, or when learned from
    /// FindCoordinator.
    pub rack: Option<String>,
}

impl BrokerMeta {
    /// The `host:port` to connect to (`[host]:port` for an IPv6 host).
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition as Metadata describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMeta {
    /// The partition's index.
    pub partition: i32,
    /// Kafka's error code for the partition (e.g. LEADER_NOT_AVAILABLE, 5, during an
    /// election); 0 when described.
    pub error_code: i16,
    /// The leader's node id; -1 when there is none.
    pub leader: i32,
    /// The leader's epoch, which a new leader raises; -1 when the broker does not say
    /// (Metadata before v7).
    pub leader_epoch: i32,
    /// The node ids holding a replica, the preferred leader first.
    pub replicas: Vec<i32>,
    /// The replicas in sync with the leader (acks -1 waits for these).
    pub isr: Vec<i32>,
    /// The replicas whose log directory is offline.
    pub offline_replicas: Vec<i32>,
}

/// One topic as Metadata describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMeta {
    /// The topic's name.
    pub name: String,
    /// The topic's id (Metadata v10+; the nil UUID when the broker gives none).
    /// Produce v13+ and Fetch v13+ address the topic by it.
    pub topic_id: Uuid,
    /// Kafka's error code for the topic (e.g. UNKNOWN_TOPIC_OR_PARTITION, 3, from
    /// [`Client::metadata`] for a topic that does not exist; TOPIC_AUTHORIZATION_FAILED,
    /// 29); 0 when described.
    pub error_code: i16,
    /// Whether it is one of Kafka's internal topics (`__consumer_offsets`,
    /// `__transaction_state`).
    pub is_internal: bool,
    /// Sorted by partition number.
    pub partitions: Vec<PartitionMeta>,
}

/// The cluster as Metadata describes it: brokers, controller and topics. The
/// client caches one ([`Client::cached_metadata`]) and routes by it.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    /// The cluster's id; `None` from a broker that does not say (Metadata before v2).
    pub cluster_id: Option<String>,
    /// The controller's node id, where admin requests go; -1 when unknown.
    pub controller_id: i32,
    /// The brokers, by node id: Metadata's live ones, plus coordinators learned
    /// from FindCoordinator.
    pub brokers: BTreeMap<i32, BrokerMeta>,
    /// The topics described, by name.
    pub topics: HashMap<String, TopicMeta>,
}

impl Metadata {
    /// The node id of the partition's leader; `None` when the topic or partition is
    /// not in this metadata or has no leader.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let t = self.topics.get(topic)?;
        let p = t.partitions.iter().find(|p| p.partition == partition)?;
        (p.leader >= 0).then_some(p.leader)
    }

    fn topic_id(&self, topic: &str) -> Uuid {
        self.topics
            .get(topic)
            .map(|t| t.topic_id)
            .unwrap_or_else(Uuid::nil)
    }
}

/// Which connection to a broker a request uses. Kafka answers one connection's
/// requests in order, so a long-polling fetch or a JoinGroup waiting for a
/// rebalance would hold up produce and metadata requests queued behind it; like
/// the Java client's separate producer/consumer/coordinator connections, each
/// kind of traffic gets its own connection per broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    General,
    /// Fetches of one caller (a consumer): each has its own connection per broker,
    /// as each Java consumer does, so cancelling one's long poll (which closes the
    /// connection it waits on) leaves the others' fetches alone. The second number
    /// counts the lane's cancels: fetches after a cancel never share a connection
    /// with the cancelled one (which may still be connecting when it is cancelled).
    Fetch(u32, u32),
    Group,
}

/// A cancellable fetch's registration: its id and its trigger.
pub(crate) type Cancel = (u64, tokio::sync::oneshot::Sender<()>);

/// Connection slots by lane and broker address; the inner async mutex makes concurrent
/// callers share one connection attempt.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>;

pub(crate) struct Inner {
    pub(crate) cfg: ClientConfig,
    tls: Option<TlsConnector>,
    meta: RwLock<Metadata>,
    slots: Mutex<HashMap<(Lane, String), Slot>>,
    refreshing: tokio::sync::Mutex<()>,
    pub(crate) coordinators: Mutex<HashMap<(i8, String), i32>>,
    /// Fetches that can be cancelled, by fetch lane.
    pub(crate) cancels: Mutex<HashMap<u32, Vec<Cancel>>>,
    pub(crate) next_cancel: std::sync::atomic::AtomicU64,
    /// Cancels so far, by fetch lane (see `Lane::Fetch`).
    pub(crate) lane_epochs: Mutex<HashMap<u32, u32>>,
    /// Produce calls queue their requests in the order they were made.
    pub(crate) produce_order: Arc<crate::order::Turnstile>,
}

/// A Kafka client. Cheap to clone; all clones share connections and metadata.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// An operation routed to partition leaders, retried after a metadata refresh
/// for the items whose error says the metadata was stale.
pub(crate) trait LeaderOp: Send + Sync + 'static {
    type Item: Clone + Send + Sync + 'static;
    type Out: Send + 'static;
    /// The connection lane of this operation's requests.
    fn lane(&self) -> Lane {
        Lane::General
    }
    fn locate(item: &Self::Item) -> (&str, i32);
    fn send(
        self: Arc<Self>,
        client: Client,
        conn: Arc<Connection>,
        items: Vec<(usize, Self::Item)>,
    ) -> impl Future<Output = Result<Vec<(usize, Self::Out)>>> + Send + 'static;
    fn error_code(out: &Self::Out) -> i16;
    fn failed(item: &Self::Item, code: i16, message: String) -> Self::Out;
    /// Called before an attempt sends `requests` requests (one per leader),
    /// for operations whose requests are queued in call order (`order.rs`).
    fn begin(&self, _attempt: u32, _requests: usize) {}
    /// One request of the current attempt is in its connection's write queue,
    /// or will never be (its connection failed).
    fn queued(&self) {}
    fn retriable(code: i16) -> bool {
        is_metadata_error(code)
    }
}

impl Client {
    /// Creates a client and fetches the cluster's metadata once (which proves the
    /// bootstrap brokers, TLS and SASL settings work).
    pub async fn connect(cfg: ClientConfig) -> Result<Client> {
        if cfg.bootstrap.is_empty() {
            return Err(Error::Config("no bootstrap brokers".to_string()));
        }
        for b in &cfg.bootstrap {
            if b.rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err(Error::Config(format!(
                    "broker address {b:?} is not host:port"
                )));
            }
        }
        let tls = cfg.tls.as_ref().map(tls_connector).transpose()?;
        let client = Client {
            inner: Arc::new(Inner {
                cfg,
                tls,
                meta: RwLock::new(Metadata::default()),
                slots: Mutex::new(HashMap::new()),
                refreshing: tokio::sync::Mutex::new(()),
                coordinators: Mutex::new(HashMap::new()),
                cancels: Mutex::new(HashMap::new()),
                next_cancel: std::sync::atomic::AtomicU64::new(0),
                lane_epochs: Mutex::new(HashMap::new()),
                produce_order: Arc::new(crate::order::Turnstile::default()),
            }),
        };
        client.refresh_metadata(&[]).await?;
        Ok(client)
    }

    /// The configuration the client was made with.
    pub(crate) fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// A snapshot of the cached metadata.
    pub fn cached_metadata(&self) -> Metadata {
        poison(self.inner.meta.read()).clone()
    }

    pub(crate) async fn conn_addr(&self, addr: &str) -> Result<Arc<Connection>> {
        self.conn_lane(Lane::General, addr).await
    }

    pub(crate) async fn conn_lane(&self, lane: Lane, addr: &str) -> Result<Arc<Connection>> {
        let slot = poison(self.inner.slots.lock())
            .entry((lane, addr.to_string()))
            .or_default()
            .clone();
        let mut g = slot.lock().await;
        if let Some(c) = g.as_ref() {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        *g = None;
        let c = Connection::connect(addr, &self.inner.cfg, self.inner.tls.as_ref()).await?;
        *g = Some(c.clone());
        Ok(c)
    }

    /// The current cancel count of fetch lane `lane`.
    pub(crate) fn lane_epoch(&self, lane: u32) -> u32 {
        poison(self.inner.lane_epochs.lock())
            .get(&lane)
            .copied()
            .unwrap_or(0)
    }

    /// Starts a new epoch of fetch lane `lane`: later fetches connect afresh.
    pub(crate) fn bump_lane(&self, lane: u32) {
        let mut m = poison(self.inner.lane_epochs.lock());
        let e = m.entry(lane).or_insert(0);
        *e = e.wrapping_add(1);
    }

    /// Closes and forgets the connections of fetch lane `lane` from epochs before
    /// the current one (a cancelled long poll: the broker would answer nothing
    /// else on that connection until the poll's max wait). Responses still owed
    /// on them are never read, so no correlation id is reused.
    pub(crate) fn close_stale_lane(&self, lane: u32) {
        let current = self.lane_epoch(lane);
        let stale: Vec<Slot> = {
            let mut slots = poison(self.inner.slots.lock());
            let keys: Vec<(Lane, String)> = slots
                .keys()
                .filter(|(l, _)| matches!(l, Lane::Fetch(n, e) if *n == lane && *e != current))
                .cloned()
                .collect();
            keys.iter().filter_map(|k| slots.remove(k)).collect()
        };
        for slot in stale {
            // A slot locked now is being connected by a cancelled fetch; that fetch
            // is dropped, and its connection with it.
            if let Ok(mut g) = slot.try_lock() {
                if let Some(c) = g.take() {
                    c.close();
                }
            }
        }
    }

    pub(crate) async fn conn_node(&self, node: i32) -> Result<Arc<Connection>> {
        self.conn_node_lane(Lane::General, node).await
    }

    pub(crate) async fn conn_node_lane(&self, lane: Lane, node: i32) -> Result<Arc<Connection>> {
        let addr = poison(self.inner.meta.read())
            .brokers
            .get(&node)
            .map(BrokerMeta::addr);
        match addr {
            Some(a) => self.conn_lane(lane, &a).await,
            None => Err(Error::kafka(
                codes::LEADER_NOT_AVAILABLE,
                format!("broker {node} is not in the metadata"),
            )),
        }
    }

    /// Some live connection: an open one if any, else the known brokers, else bootstrap.
    pub(crate) async fn any_conn(&self) -> Result<Arc<Connection>> {
        let mut addrs: Vec<String> = poison(self.inner.meta.read())
            .brokers
            .values()
            .map(BrokerMeta::addr)
            .collect();
        for b in &self.inner.cfg.bootstrap {
            if !addrs.contains(b) {
                addrs.push(b.clone());
            }
        }
        {
            let slots = poison(self.inner.slots.lock());
            for a in &addrs {
                if let Some(slot) = slots.get(&(Lane::General, a.clone())) {
                    if let Ok(g) = slot.try_lock() {
                        if let Some(c) = g.as_ref().filter(|c| !c.is_closed()) {
                            return Ok(c.clone());
                        }
                    }
                }
            }
        }
        let mut last = Error::Connection("no broker reachable".to_string());
        for a in &addrs {
            match self.conn_addr(a).await {
                Ok(c) => return Ok(c),
                Err(e @ (Error::Authentication(_) | Error::Tls(_))) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The controller (admin requests), or any broker when it is unknown (KRaft
    /// brokers forward controller requests).
    pub(crate) async fn controller_conn(&self) -> Result<Arc<Connection>> {
        let id = poison(self.inner.meta.read()).controller_id;
        if id >= 0 {
            if let Ok(c) = self.conn_node(id).await {
                return Ok(c);
            }
        }
        self.any_conn().await
    }

    async fn metadata_request(&self, topics: Option<&[String]>) -> Result<MetadataResponse> {
        let mut last = Error::Connection("no broker reachable".to_string());
        for _ in 0..3 {
            let conn = match self.any_conn().await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let v = conn.version::<MetadataRequest>(i16::MAX)?;
            let mut req = MetadataRequest::default().with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                    .collect()
            }));
            if v >= 4 {
                req = req.with_allow_auto_topic_creation(self.inner.cfg.allow_auto_topic_creation);
            }
            match conn.send(&req, v).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retriable() => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn apply_metadata(&self, resp: &MetadataResponse, full: bool) -> Metadata {
        let mut m = poison(self.inner.meta.write());
        if !resp.brokers.is_empty() {
            m.brokers = resp
                .brokers
                .iter()
                .map(|b| {
                    let meta = BrokerMeta {
                        node_id: b.node_id.0,
                        host: b.host.to_string(),
                        port: b.port,
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                    };
                    (b.node_id.0, meta)
                })
                .collect();
        }
        m.controller_id = resp.controller_id.0;
        m.cluster_id = resp.cluster_id.as_ref().map(|c| c.to_string());
        if full {
            m.topics.clear();
        }
        for t in &resp.topics {
            let Some(tname) = t.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            if t.error_code == codes::UNKNOWN_TOPIC_OR_PARTITION {
                m.topics.remove(&tname);
                continue;
            }
            let mut partitions: Vec<PartitionMeta> = t
                .partitions
                .iter()
                .map(|p| PartitionMeta {
                    partition: p.partition_index,
                    error_code: p.error_code,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let meta = TopicMeta {
                name: tname.clone(),
                topic_id: t.topic_id,
                error_code: t.error_code,
                is_internal: t.is_internal,
                partitions,
            };
            m.topics.insert(tname, meta);
        }
        m.clone()
    }

    /// Refreshes brokers and the given topics (plus every topic already cached).
    pub async fn refresh_metadata(&self, topics: &[String]) -> Result<()> {
        let _single = self.inner.refreshing.lock().await;
        let mut wanted: Vec<String> = poison(self.inner.meta.read())
            .topics
            .keys()
            .cloned()
            .collect();
        for t in topics {
            if !wanted.contains(t) {
                wanted.push(t.clone());
            }
        }
        let resp = self.metadata_request(Some(&wanted)).await?;
        self.apply_metadata(&resp, false);
        Ok(())
    }

    /// Fetches metadata: `None` lists every topic of the cluster.
    pub async fn metadata(&self, topics: Option<&[String]>) -> Result<Metadata> {
        let resp = self.metadata_request(topics).await?;
        let mut m = self.apply_metadata(&resp, topics.is_none());
        if let Some(ts) = topics {
            // Report what was asked for, including errors such as UNKNOWN_TOPIC_OR_PARTITION.
            m.topics = resp
                .topics
                .iter()
                .filter_map(|t| {
                    let n = t.name.as_ref()?.0.to_string();
                    ts.contains(&n).then_some(n)
                })
                .filter_map(|n| {
                    m.topics
                        .get(&n)
                        .cloned()
                        .map(|t| (n.clone(), t))
                        .or_else(|| {
                            let err = resp.topics.iter().find(|t| {
                                t.name.as_ref().map(|x| x.0.as_str()) == Some(n.as_str())
                            })?;
                            Some((
                                n.clone(),
                                TopicMeta {
                                    name: n,
                                    topic_id: err.topic_id,
                                    error_code: err.error_code,
                                    is_internal: false,
                                    partitions: vec![],
                                },
                            ))
                        })
                })
                .collect();
        }
        Ok(m)
    }

    /// Makes sure the cache knows these topics (one refresh if some are missing).
    pub(crate) async fn ensure_topics<'a>(
        &self,
        topics: impl Iterator<Item = &'a str>,
    ) -> Result<()> {
        let missing: Vec<String> = {
            let m = poison(self.inner.meta.read());
            let mut v: Vec<String> = Vec::new();
            for t in topics {
                if !m.topics.contains_key(t) && !v.iter().any(|x| x == t) {
                    v.push(t.to_string());
                }
            }
            v
        };
        if missing.is_empty() {
            return Ok(());
        }
        self.refresh_metadata(&missing).await
    }

    pub(crate) fn topic_id(&self, topic: &str) -> Uuid {
        poison(self.inner.meta.read()).topic_id(topic)
    }

    pub(crate) async fn backoff(&self, attempt: u32) {
        let ms = self.inner.cfg.retry_backoff.as_millis() as u64;
        let ms = ms.saturating_mul(1 << attempt.min(5)).min(5_000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// As `route`, for items that may name one partition several times: Kafka takes
    /// a partition once per request, so the r-th item of each partition goes in
    /// round r, rounds one after the other (which also keeps a partition's items
    /// in order).
    pub(crate) async fn route_rounds<O: LeaderOp>(
        &self,
        op: Arc<O>,
        items: Vec<O::Item>,
    ) -> Result<Vec<O::Out>> {
        let mut rounds: Vec<Vec<(usize, O::Item)>> = Vec::new();
        let mut seen: HashMap<(String, i32), usize> = HashMap::new();
        let total = items.len();
        for (i, it) in items.into_iter().enumerate() {
            let (t, p) = O::locate(&it);
            let n = seen.entry((t.to_string(), p)).or_insert(0);
            if rounds.len() <= *n {
                rounds.push(Vec::new());
            }
            rounds[*n].push((i, it));
            *n += 1;
        }
        if rounds.len() <= 1 {
            let items = rounds
                .pop()
                .unwrap_or_default()
                .into_iter()
                .map(|(_, it)| it)
                .collect();
            return self.route(op, items).await;
        }
        let mut out: Vec<Option<O::Out>> = (0..total).map(|_| None).collect();
        for round in rounds {
            let (idx, items): (Vec<usize>, Vec<O::Item>) = round.into_iter().unzip();
            let results = self.route(op.clone(), items).await?;
            for (i, r) in idx.into_iter().zip(results) {
                out[i] = Some(r);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Sends `items` to their partitions' leaders (one request per leader, in
    /// parallel), retrying stale-metadata failures after a refresh. The result has
    /// one output per item, in the items' order.
    pub(crate) async fn route<O: LeaderOp>(
        &self,
        op: Arc<O>,
        items: Vec<O::Item>,
    ) -> Result<Vec<O::Out>> {
        let mut out: Vec<Option<O::Out>> = items.iter().map(|_| None).collect();
        self.ensure_topics(items.iter().map(|i| O::locate(i).0))
            .await?;
        let mut todo: Vec<usize> = (0..items.len()).collect();
        let retries = self.inner.cfg.retries;
        for attempt in 0..=retries {
            let mut by_leader: HashMap<i32, Vec<(usize, O::Item)>> = HashMap::new();
            {
                let m = poison(self.inner.meta.read());
                for &i in &todo {
                    let (t, p) = O::locate(&items[i]);
                    match m.leader(t, p) {
                        Some(l) => by_leader.entry(l).or_default().push((i, items[i].clone())),
                        None => {
                            let known = m
                                .topics
                                .get(t)
                                .is_some_and(|tm| tm.partitions.iter().any(|x| x.partition == p));
                            let code = if known {
                                codes::LEADER_NOT_AVAILABLE
                            } else {
                                codes::UNKNOWN_TOPIC_OR_PARTITION
                            };
                            out[i] =
                                Some(O::failed(&items[i], code, format!("no leader for {t}-{p}")));
                        }
                    }
                }
            }
            op.begin(attempt, by_leader.len());
            let mut set = JoinSet::new();
            for (leader, batch) in by_leader {
                let client = self.clone();
                let op = op.clone();
                set.spawn(async move {
                    let idx: Vec<usize> = batch.iter().map(|(i, _)| *i).collect();
                    let res = match client.conn_node_lane(op.lane(), leader).await {
                        Ok(conn) => op.send(client.clone(), conn, batch).await,
                        Err(e) => {
                            op.queued();
                            Err(e)
                        }
                    };
                    (idx, res)
                });
            }
            while let Some(joined) = set.join_next().await {
                let Ok((idx, res)) = joined else {
                    return Err(Error::Protocol("a request task failed".to_string()));
                };
                match res {
                    Ok(results) => {
                        for (i, r) in results {
                            out[i] = Some(r);
                        }
                    }
                    Err(e) => {
                        for i in idx {
                            out[i] = Some(O::failed(&items[i], e.code(), e.to_string()));
                        }
                    }
                }
            }
            todo.retain(|&i| match &out[i] {
                Some(r) => O::retriable(O::error_code(r)),
                None => true,
            });
            if todo.is_empty() || attempt == retries {
                break;
            }
            self.backoff(attempt).await;
            let topics: Vec<String> = todo
                .iter()
                .map(|&i| O::locate(&items[i]).0.to_string())
                .collect();
            // A failed refresh is not fatal: the next attempt reports per item.
            let _ = self.refresh_metadata(&topics).await;
        }
        let mut done = Vec::with_capacity(out.len());
        for (i, r) in out.into_iter().enumerate() {
            done.push(match r {
                Some(r) => r,
                None => O::failed(
                    &items[i],
                    codes::UNKNOWN_SERVER_ERROR,
                    "no response".to_string(),
                ),
            });
        }
        Ok(done)
    }
}

pub(crate) fn opt_string(s: &Option<StrBytes>) -> Option<String> {
    s.as_ref().map(|x| x.to_string())
}

impl Client {
    /// (api key, min, max) the broker of some live connection offers.
    pub async fn api_versions(&self) -> Result<Vec<(i16, i16, i16)>> {
        let conn = self.any_conn().await?;
        let mut v: Vec<(i16, i16, i16)> = conn.api_versions().into_iter().collect();
        v.sort();
        Ok(v)
    }

    /// A place in line for a produce call ([`Client::produce_ordered`]). Take it
    /// when the call is made: calls then queue their requests in that order.
    pub fn produce_ticket(&self) -> crate::order::Ticket {
        self.inner.produce_order.ticket()
    }

    /// Adds a broker learned outside Metadata (FindCoordinator) to the cache.
    pub(crate) fn remember_broker(&self, b: BrokerMeta) {
        poison(self.inner.meta.write())
            .brokers
            .entry(b.node_id)
            .or_insert(b);
    }
}
