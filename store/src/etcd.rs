//! `EtcdStore`: the store trait mapped onto real etcd (v3 API).
//!
//! | Skiff | etcd |
//! |---|---|
//! | revision, `resourceVersion` | `header.revision`, `mod_revision` |
//! | create | Txn: `create_revision(key) == 0` then put |
//! | update / delete with expected revision | Txn: `mod_revision(key) == expected` then put / get+delete, else get |
//! | list page at a revision | range `[start, prefix_end)` with `limit` and `revision` |
//! | watch from a revision | watch with prefix, `start_revision = from + 1`, `prev_kv` |
//! | `Expired` | a compacted revision (range error or watch `compact_revision`) |
//!
//! The gRPC client is generated at build time from `proto/etcd.proto` (the part of etcd's API used
//! here, field numbers as etcd's) by protox and tonic: no `protoc` is needed to build Skiff. A client
//! crate would bring all of etcd's API and, today, a build that runs `protoc`.

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use skiff_core::store::{
    EventKind, KeyValue, ListOptions, ListResult, Store, StoreError, WatchEvent, WatchStream,
};
use tonic::transport::{Channel, Endpoint};

/// etcd's gRPC messages and clients, generated from `proto/etcd.proto` (see the [module docs](self)).
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used)]
mod pb {
    tonic::include_proto!("etcdserverpb");
}

use pb::compare::{CompareResult, CompareTarget, TargetUnion};
use pb::kv_client::KvClient;
use pb::request_op::Request;
use pb::response_op::Response;
use pb::watch_client::WatchClient;
use pb::{
    CompactionRequest, Compare, RangeRequest, RangeResponse, RequestOp, TxnRequest, TxnResponse,
    WatchCreateRequest, WatchRequest,
};

/// Largest response accepted from etcd.
const MAX_RESPONSE_BYTES: usize = 1 << 30;

/// A store on a real etcd cluster. See the [module docs](self) for the mapping.
#[derive(Clone)]
pub struct EtcdStore {
    channel: Channel,
}

fn backend(e: tonic::Status) -> StoreError {
    StoreError::Backend(format!("etcd: {}", e.message()))
}

fn is_compacted(e: &tonic::Status) -> bool {
    e.message().contains("compacted")
}

fn convert(kv: &pb::KeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(&kv.key).into_owned(),
        value: Bytes::copy_from_slice(&kv.value),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
    }
}

/// The first key after every key starting with `prefix` (etcd's range end for a prefix).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // every key
}

fn revision_of(header: Option<&pb::ResponseHeader>) -> i64 {
    header.map(|h| h.revision).unwrap_or(0)
}

fn range(key: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestRange(RangeRequest {
            key: key.as_bytes().to_vec(),
            ..RangeRequest::default()
        })),
    }
}

fn put(key: &str, value: Vec<u8>) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestPut(pb::PutRequest {
            key: key.as_bytes().to_vec(),
            value,
        })),
    }
}

fn delete_one(key: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestDeleteRange(pb::DeleteRangeRequest {
            key: key.as_bytes().to_vec(),
            range_end: Vec::new(),
        })),
    }
}

fn compare(key: &str, result: CompareResult, target: CompareTarget, value: TargetUnion) -> Compare {
    Compare {
        result: result as i32,
        target: target as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(value),
    }
}

/// The first key-value a transaction's range operations found.
fn first_ranged(resp: &TxnResponse) -> Option<&pb::KeyValue> {
    resp.responses.iter().find_map(|r| match &r.response {
        Some(Response::ResponseRange(RangeResponse { kvs, .. })) => kvs.first(),
        _ => None,
    })
}

impl EtcdStore {
    /// Connects to etcd at `endpoints` (e.g. `["http://127.0.0.1:2379"]`), balancing across them.
    pub async fn connect(endpoints: &[String]) -> Result<Self, StoreError> {
        let unreachable =
            |e: String| StoreError::Backend(format!("cannot reach etcd at {endpoints:?}: {e}"));
        let mut list = Vec::new();
        for url in endpoints {
            list.push(Endpoint::from_shared(url.clone()).map_err(|e| unreachable(e.to_string()))?);
        }
        let first = list
            .first()
            .cloned()
            .ok_or_else(|| unreachable("no endpoint given".into()))?;
        // Fail now, with the address, when etcd is not there (a balanced channel connects lazily).
        first
            .connect()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self {
            channel: Channel::balance_list(list.into_iter()),
        })
    }

    /// A KV client that accepts large responses (an unpaged list of thousands of objects is many MiB;
    /// tonic's default limit is 4 MiB).
    fn kv(&self) -> KvClient<Channel> {
        KvClient::new(self.channel.clone()).max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    async fn txn(&self, txn: TxnRequest) -> Result<TxnResponse, StoreError> {
        Ok(self.kv().txn(txn).await.map_err(backend)?.into_inner())
    }

    /// What a failed compare found: `NotFound` or `Conflict`.
    fn failed_compare(key: &str, expected: Option<i64>, resp: &TxnResponse) -> StoreError {
        let current = first_ranged(resp).map(|kv| kv.mod_revision);
        match (current, expected) {
            (None, _) => StoreError::NotFound {
                key: key.to_string(),
            },
            (Some(actual), Some(expected)) => StoreError::Conflict {
                key: key.to_string(),
                expected,
                actual,
            },
            (Some(actual), None) => StoreError::Conflict {
                key: key.to_string(),
                expected: actual,
                actual,
            },
        }
    }

    /// The compare of a conditional write: at revision `expected`, or merely present.
    fn guard(key: &str, expected: Option<i64>) -> Compare {
        match expected {
            Some(rev) => compare(
                key,
                CompareResult::Equal,
                CompareTarget::Mod,
                TargetUnion::ModRevision(rev),
            ),
            None => compare(
                key,
                CompareResult::Greater,
                CompareTarget::Create,
                TargetUnion::CreateRevision(0),
            ),
        }
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError> {
        let resp = self
            .txn(TxnRequest {
                compare: vec![compare(
                    key,
                    CompareResult::Equal,
                    CompareTarget::Create,
                    TargetUnion::CreateRevision(0),
                )],
                success: vec![put(key, value)],
                failure: vec![],
            })
            .await?;
        if !resp.succeeded {
            return Err(StoreError::AlreadyExists {
                key: key.to_string(),
            });
        }
        Ok(revision_of(resp.header.as_ref()))
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let resp = self
            .kv()
            .range(RangeRequest {
                key: key.as_bytes().to_vec(),
                ..RangeRequest::default()
            })
            .await
            .map_err(backend)?
            .into_inner();
        Ok(resp.kvs.first().map(convert))
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError> {
        let (revision, start) = match &opts.continue_token {
            Some(token) => {
                let invalid = || StoreError::InvalidContinue {
                    token: token.clone(),
                };
                let (rev, key) = token.split_once(':').ok_or_else(invalid)?;
                let rev: i64 = rev.parse().map_err(|_| invalid())?;
                // The next key after `key`.
                (rev, format!("{key}\0"))
            }
            None => (0, prefix.to_string()),
        };
        let request = RangeRequest {
            key: start.into_bytes(),
            range_end: prefix_end(prefix),
            limit: opts
                .limit
                .filter(|l| *l > 0)
                .map_or(0, |l| i64::try_from(l).unwrap_or(i64::MAX)),
            revision,
            count_only: false,
        };
        let resp = match self.kv().range(request).await {
            Ok(r) => r.into_inner(),
            Err(e) if is_compacted(&e) => {
                return Err(StoreError::Expired {
                    requested: revision,
                    compacted: revision,
                })
            }
            Err(e) => return Err(backend(e)),
        };
        let revision = if revision > 0 {
            revision
        } else {
            revision_of(resp.header.as_ref())
        };
        let items: Vec<KeyValue> = resp.kvs.iter().map(convert).collect();
        let remaining = usize::try_from(resp.count)
            .unwrap_or(0)
            .saturating_sub(items.len());
        let continue_token = (resp.more && remaining > 0)
            .then(|| items.last().map(|kv| format!("{revision}:{}", kv.key)))
            .flatten();
        Ok(ListResult {
            items,
            revision,
            remaining: continue_token.as_ref().map(|_| remaining),
            continue_token,
        })
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<i64>,
    ) -> Result<i64, StoreError> {
        let resp = self
            .txn(TxnRequest {
                compare: vec![Self::guard(key, expected)],
                success: vec![put(key, value)],
                failure: vec![range(key)],
            })
            .await?;
        if !resp.succeeded {
            return Err(Self::failed_compare(key, expected, &resp));
        }
        Ok(revision_of(resp.header.as_ref()))
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError> {
        let resp = self
            .txn(TxnRequest {
                compare: vec![Self::guard(key, expected)],
                success: vec![range(key), delete_one(key)],
                failure: vec![range(key)],
            })
            .await?;
        if !resp.succeeded {
            return Err(Self::failed_compare(key, expected, &resp));
        }
        let revision = revision_of(resp.header.as_ref());
        let last = first_ranged(&resp)
            .map(convert)
            .ok_or_else(|| StoreError::NotFound {
                key: key.to_string(),
            })?;
        Ok(KeyValue {
            mod_revision: revision,
            ..last
        })
    }

    async fn watch(&self, prefix: &str, from_revision: i64) -> Result<WatchStream, StoreError> {
        let create = WatchRequest {
            request_union: Some(pb::watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: prefix.as_bytes().to_vec(),
                    range_end: prefix_end(prefix),
                    start_revision: if from_revision > 0 {
                        from_revision + 1
                    } else {
                        0
                    },
                    prev_kv: true,
                },
            )),
        };
        // The request stream stays open for the watch's life: etcd ends a watch whose client
        // half-closes. One request, then pending forever.
        let requests = futures::stream::iter([create]).chain(futures::stream::pending());
        let stream = WatchClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .watch(requests)
            .await
            .map_err(backend)?
            .into_inner();
        let events = futures::stream::unfold(Some(stream), move |state| async move {
            let mut stream = state?;
            loop {
                let resp = match stream.message().await {
                    Ok(Some(r)) => r,
                    Ok(None) => return None,
                    Err(e) => return Some((vec![Err(backend(e))], None)),
                };
                if resp.compact_revision > 0 {
                    let err = StoreError::Expired {
                        requested: from_revision,
                        compacted: resp.compact_revision,
                    };
                    return Some((vec![Err(err)], None));
                }
                if resp.canceled {
                    let err = StoreError::Backend(format!(
                        "etcd cancelled the watch: {}",
                        resp.cancel_reason
                    ));
                    return Some((vec![Err(err)], None));
                }
                let batch: Vec<Result<WatchEvent, StoreError>> = resp
                    .events
                    .iter()
                    .filter_map(|ev| {
                        let kv = convert(ev.kv.as_ref()?);
                        let prev = ev.prev_kv.as_ref().map(convert);
                        Some(Ok(match pb::event::EventType::try_from(ev.r#type) {
                            Ok(pb::event::EventType::Delete) => WatchEvent {
                                kind: EventKind::Delete,
                                kv: KeyValue {
                                    mod_revision: kv.mod_revision,
                                    ..prev.clone().unwrap_or(kv)
                                },
                                prev,
                            },
                            _ => WatchEvent {
                                kind: if kv.create_revision == kv.mod_revision {
                                    EventKind::Create
                                } else {
                                    EventKind::Update
                                },
                                kv,
                                prev,
                            },
                        }))
                    })
                    .collect();
                if !batch.is_empty() {
                    return Some((batch, Some(stream)));
                }
            }
        });
        let flat = events.flat_map(futures::stream::iter);
        Ok(WatchStream::new(flat))
    }

    async fn current_revision(&self) -> Result<i64, StoreError> {
        let resp = self
            .kv()
            .range(RangeRequest {
                key: b"\0".to_vec(),
                count_only: true,
                ..RangeRequest::default()
            })
            .await
            .map_err(backend)?
            .into_inner();
        Ok(revision_of(resp.header.as_ref()))
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        let request = CompactionRequest {
            revision,
            physical: false,
        };
        match self.kv().compact(request).await {
            Ok(_) => Ok(()),
            Err(e) if is_compacted(&e) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}
