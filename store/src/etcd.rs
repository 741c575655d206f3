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

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use skiff_core::store::{
    EventKind, KeyValue, ListOptions, ListResult, Store, StoreError, WatchEvent, WatchStream,
};

/// Largest response accepted from etcd.
const MAX_RESPONSE_BYTES: usize = 1 << 30;

/// A store on a real etcd cluster. See the [module docs](self) for the mapping.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
}

fn backend(e: etcd_client::Error) -> StoreError {
    StoreError::Backend(format!("etcd: {e}"))
}

fn is_compacted(e: &etcd_client::Error) -> bool {
    e.to_string().contains("compacted")
}

fn convert(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
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

impl EtcdStore {
    /// Connects to etcd at `endpoints` (e.g. `["http://127.0.0.1:2379"]`).
    pub async fn connect(endpoints: &[String]) -> Result<Self, StoreError> {
        let client = Client::connect(endpoints, None)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot reach etcd at {endpoints:?}: {e}")))?;
        Ok(Self { client })
    }

    /// A KV client that accepts large responses (an unpaged list of thousands of objects is many MiB;
    /// tonic's default limit is 4 MiB).
    fn kv(&self) -> etcd_client::KvClient {
        self.client
            .kv_client()
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    fn revision_of(header: Option<&etcd_client::ResponseHeader>) -> i64 {
        header.map(|h| h.revision()).unwrap_or(0)
    }

    /// What a failed compare found: `NotFound` or `Conflict`.
    fn failed_compare(
        key: &str,
        expected: Option<i64>,
        resp: &etcd_client::TxnResponse,
    ) -> StoreError {
        let current = resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(g) => g.kvs().first().map(|kv| kv.mod_revision()),
            _ => None,
        });
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

    fn guard(key: &str, expected: Option<i64>) -> Compare {
        match expected {
            Some(rev) => Compare::mod_revision(key, CompareOp::Equal, rev),
            None => Compare::create_revision(key, CompareOp::Greater, 0),
        }
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<i64, StoreError> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value, None)]);
        let resp = self.kv().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(StoreError::AlreadyExists {
                key: key.to_string(),
            });
        }
        Ok(Self::revision_of(resp.header()))
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let resp = self
            .client
            .kv_client()
            .get(key, None)
            .await
            .map_err(backend)?;
        Ok(resp.kvs().first().map(convert))
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
        let mut get = GetOptions::new().with_range(prefix_end(prefix));
        if let Some(limit) = opts.limit.filter(|l| *l > 0) {
            get = get.with_limit(limit as i64);
        }
        if revision > 0 {
            get = get.with_revision(revision);
        }
        let resp = match self.kv().get(start, Some(get)).await {
            Ok(r) => r,
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
            Self::revision_of(resp.header())
        };
        let items: Vec<KeyValue> = resp.kvs().iter().map(convert).collect();
        let remaining = usize::try_from(resp.count())
            .unwrap_or(0)
            .saturating_sub(items.len());
        let continue_token = (resp.more() && remaining > 0)
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
        let txn = Txn::new()
            .when([Self::guard(key, expected)])
            .and_then([TxnOp::put(key, value, None)])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.kv().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(Self::failed_compare(key, expected, &resp));
        }
        Ok(Self::revision_of(resp.header()))
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError> {
        let txn = Txn::new()
            .when([Self::guard(key, expected)])
            .and_then([TxnOp::get(key, None), TxnOp::delete(key, None)])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.kv().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(Self::failed_compare(key, expected, &resp));
        }
        let revision = Self::revision_of(resp.header());
        let last = resp
            .op_responses()
            .into_iter()
            .find_map(|r| match r {
                TxnOpResponse::Get(g) => g.kvs().first().map(convert),
                _ => None,
            })
            .ok_or_else(|| StoreError::NotFound {
                key: key.to_string(),
            })?;
        Ok(KeyValue {
            mod_revision: revision,
            ..last
        })
    }

    async fn watch(&self, prefix: &str, from_revision: i64) -> Result<WatchStream, StoreError> {
        let mut opts = WatchOptions::new()
            .with_range(prefix_end(prefix))
            .with_prev_key();
        if from_revision > 0 {
            opts = opts.with_start_revision(from_revision + 1);
        }
        let stream = self
            .client
            .watch_client()
            .watch(prefix, Some(opts))
            .await
            .map_err(backend)?;
        let events = futures::stream::unfold(Some(stream), move |state| async move {
            let mut stream = state?;
            loop {
                let resp = match stream.message().await {
                    Ok(Some(r)) => r,
                    Ok(None) => return None,
                    Err(e) => return Some((vec![Err(backend(e))], None)),
                };
                if resp.compact_revision() > 0 {
                    let err = StoreError::Expired {
                        requested: from_revision,
                        compacted: resp.compact_revision(),
                    };
                    return Some((vec![Err(err)], None));
                }
                if resp.canceled() {
                    let err = StoreError::Backend(format!(
                        "etcd cancelled the watch: {}",
                        resp.cancel_reason()
                    ));
                    return Some((vec![Err(err)], None));
                }
                let batch: Vec<Result<WatchEvent, StoreError>> = resp
                    .events()
                    .iter()
                    .filter_map(|ev| {
                        let kv = convert(ev.kv()?);
                        let prev = ev.prev_kv().map(convert);
                        Some(Ok(match ev.event_type() {
                            EventType::Put => WatchEvent {
                                kind: if kv.create_revision == kv.mod_revision {
                                    EventKind::Create
                                } else {
                                    EventKind::Update
                                },
                                kv,
                                prev,
                            },
                            EventType::Delete => WatchEvent {
                                kind: EventKind::Delete,
                                kv: KeyValue {
                                    mod_revision: kv.mod_revision,
                                    ..prev.clone().unwrap_or(kv)
                                },
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
        let flat = futures::StreamExt::flat_map(events, futures::stream::iter);
        Ok(WatchStream::new(flat))
    }

    async fn current_revision(&self) -> Result<i64, StoreError> {
        let resp = self
            .client
            .kv_client()
            .get("\0", Some(GetOptions::new().with_count_only()))
            .await
            .map_err(backend)?;
        Ok(Self::revision_of(resp.header()))
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        match self.kv().compact(revision, None).await {
            Ok(_) => Ok(()),
            Err(e) if is_compacted(&e) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}
