//! One suite, three backends: the rules of `skiff_core::store::Store`, checked against the memory store,
//! the durable store and a real etcd started for the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::Backend;
use futures::future::join_all;
use skiff_core::store::{
    guaranteed_update, EventKind, ListOptions, Store, StoreConfig, StoreError, WatchStream,
};

async fn next_event(w: &mut WatchStream) -> skiff_core::store::WatchEvent {
    tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream is open")
        .expect("an event, not an error")
}

async fn create_get_and_revisions(s: &dyn Store) {
    let r1 = s.create("/t/a", b"1".to_vec()).await.unwrap();
    let r2 = s.create("/t/b", b"2".to_vec()).await.unwrap();
    assert!(r2 > r1, "revisions strictly increase");
    assert_eq!(s.current_revision().await.unwrap(), r2);
    let kv = s.get("/t/a").await.unwrap().unwrap();
    assert_eq!(
        (&kv.value[..], kv.create_revision, kv.mod_revision),
        (&b"1"[..], r1, r1)
    );
    assert!(matches!(
        s.create("/t/a", b"x".to_vec()).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        s.get("/t/a").await.unwrap().unwrap().value,
        &b"1"[..],
        "a failed create changes nothing"
    );
    assert_eq!(
        s.current_revision().await.unwrap(),
        r2,
        "a failed write takes no revision"
    );
    assert!(s.get("/t/missing").await.unwrap().is_none());
}

async fn update_and_cas(s: &dyn Store) {
    assert!(matches!(
        s.update("/u/a", b"x".to_vec(), None).await,
        Err(StoreError::NotFound { .. })
    ));
    let r1 = s.create("/u/a", b"1".to_vec()).await.unwrap();
    let r2 = s.update("/u/a", b"2".to_vec(), Some(r1)).await.unwrap();
    assert!(r2 > r1);
    match s.update("/u/a", b"3".to_vec(), Some(r1)).await {
        Err(StoreError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (r1, r2)),
        other => panic!("stale update must conflict, got {other:?}"),
    }
    let kv = s.get("/u/a").await.unwrap().unwrap();
    assert_eq!(
        (&kv.value[..], kv.create_revision, kv.mod_revision),
        (&b"2"[..], r1, r2)
    );
    let r3 = s.update("/u/a", b"3".to_vec(), None).await.unwrap();
    assert!(r3 > r2, "an unconditional update works too");
}

async fn delete_and_cas(s: &dyn Store) {
    assert!(matches!(
        s.delete("/d/a", None).await,
        Err(StoreError::NotFound { .. })
    ));
    let r1 = s.create("/d/a", b"1".to_vec()).await.unwrap();
    let r2 = s.update("/d/a", b"2".to_vec(), None).await.unwrap();
    assert!(matches!(
        s.delete("/d/a", Some(r1)).await,
        Err(StoreError::Conflict { .. })
    ));
    let last = s.delete("/d/a", Some(r2)).await.unwrap();
    assert_eq!(&last.value[..], b"2");
    assert!(
        last.mod_revision > r2,
        "the returned version carries the delete's revision"
    );
    assert_eq!(s.current_revision().await.unwrap(), last.mod_revision);
    assert!(s.get("/d/a").await.unwrap().is_none());
    let again = s.create("/d/a", b"new".to_vec()).await.unwrap();
    assert_eq!(
        s.get("/d/a").await.unwrap().unwrap().create_revision,
        again,
        "re-created key starts over"
    );
}

async fn list_by_prefix(s: &dyn Store) {
    for k in ["/l/b", "/l/a", "/l/c", "/lx/a", "/k/a"] {
        s.create(k, k.as_bytes().to_vec()).await.unwrap();
    }
    let res = s.list("/l/", ListOptions::default()).await.unwrap();
    let keys: Vec<&str> = res.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/l/a", "/l/b", "/l/c"]);
    assert_eq!(res.revision, s.current_revision().await.unwrap());
    assert!(res.continue_token.is_none());
    assert!(s
        .list("/none/", ListOptions::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn pagination_is_consistent(s: &dyn Store) {
    for i in 0..25 {
        s.create(&format!("/p/{i:02}"), format!("v{i}").into_bytes())
            .await
            .unwrap();
    }
    let first = s.list("/p/", ListOptions::limit(10)).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert!(
        matches!(first.remaining, None | Some(15)),
        "{:?}",
        first.remaining
    );
    let at = first.revision;
    // Change the world between pages: every later page must still show the state at `at`.
    s.delete("/p/15", None).await.unwrap();
    s.update("/p/20", b"changed".to_vec(), None).await.unwrap();
    s.create("/p/12a", b"new".to_vec()).await.unwrap();
    let mut all: Vec<_> = first.items.clone();
    let mut token = first.continue_token.clone();
    while let Some(t) = token {
        let page = s
            .list(
                "/p/",
                ListOptions {
                    limit: Some(10),
                    continue_token: Some(t),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            page.revision, at,
            "later pages are read at the first page's revision"
        );
        all.extend(page.items);
        token = page.continue_token;
    }
    let keys: Vec<String> = all.iter().map(|kv| kv.key.clone()).collect();
    let want: Vec<String> = (0..25).map(|i| format!("/p/{i:02}")).collect();
    assert_eq!(keys, want);
    let twenty = all.iter().find(|kv| kv.key == "/p/20").unwrap();
    assert_eq!(
        &twenty.value[..],
        b"v20",
        "the value as it was at the list's revision"
    );
    let bad = s
        .list(
            "/p/",
            ListOptions {
                limit: Some(10),
                continue_token: Some("garbage".into()),
            },
        )
        .await;
    assert!(
        matches!(bad, Err(StoreError::InvalidContinue { .. })),
        "{bad:?}"
    );
}

async fn watch_delivers_changes_in_order_with_prev(s: &dyn Store) {
    let start = s.current_revision().await.unwrap();
    let mut w = s.watch("/w/", start).await.unwrap();
    let r1 = s.create("/w/a", b"1".to_vec()).await.unwrap();
    s.create("/other/a", b"x".to_vec()).await.unwrap();
    let r2 = s.update("/w/a", b"2".to_vec(), Some(r1)).await.unwrap();
    let del = s.delete("/w/a", None).await.unwrap();
    let e1 = next_event(&mut w).await;
    assert_eq!(
        (e1.kind, e1.revision(), e1.prev.is_none()),
        (EventKind::Create, r1, true)
    );
    let e2 = next_event(&mut w).await;
    assert_eq!((e2.kind, e2.revision()), (EventKind::Update, r2));
    assert_eq!(&e2.prev.as_ref().unwrap().value[..], b"1");
    assert_eq!(&e2.kv.value[..], b"2");
    let e3 = next_event(&mut w).await;
    assert_eq!(
        (e3.kind, e3.revision()),
        (EventKind::Delete, del.mod_revision)
    );
    assert_eq!(
        &e3.prev.as_ref().unwrap().value[..],
        b"2",
        "deletes carry the last value"
    );
    assert_eq!(e3.kv.key, "/w/a");

    // From 0: only what happens next.
    let mut now = s.watch("/w/", 0).await.unwrap();
    let r4 = s.create("/w/b", b"b".to_vec()).await.unwrap();
    assert_eq!(next_event(&mut now).await.revision(), r4);
}

async fn watch_resumes_from_a_revision(s: &dyn Store) {
    let mut revs = Vec::new();
    for i in 0..10 {
        revs.push(s.create(&format!("/r/{i}"), vec![i]).await.unwrap());
    }
    let mut w = s.watch("/r/", revs[4]).await.unwrap();
    for want in &revs[5..] {
        assert_eq!(
            next_event(&mut w).await.revision(),
            *want,
            "exactly the changes after the revision"
        );
    }
    let more = s.create("/r/x", vec![1]).await.unwrap();
    assert_eq!(
        next_event(&mut w).await.revision(),
        more,
        "then live changes, without a gap"
    );
}

async fn compaction_expires_old_revisions(s: &dyn Store) {
    let r1 = s.create("/c/a", b"1".to_vec()).await.unwrap();
    for i in 0..5 {
        s.update("/c/a", vec![i], None).await.unwrap();
    }
    let first = {
        for i in 0..4 {
            s.create(&format!("/c/k{i}"), vec![i]).await.unwrap();
        }
        s.list("/c/", ListOptions::limit(2)).await.unwrap()
    };
    s.create("/c/z", b"z".to_vec()).await.unwrap();
    let now = s.current_revision().await.unwrap();
    s.compact(now).await.unwrap();
    match s.watch("/c/", r1).await {
        Err(StoreError::Expired { .. }) => {}
        Ok(mut w) => {
            // etcd reports compaction on the stream.
            let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
                .await
                .unwrap();
            assert!(
                matches!(ev, Some(Err(StoreError::Expired { .. }))),
                "{ev:?}"
            );
        }
        Err(other) => panic!("want Expired, got {other:?}"),
    }
    let page = s
        .list(
            "/c/",
            ListOptions {
                limit: Some(2),
                continue_token: first.continue_token,
            },
        )
        .await;
    assert!(matches!(page, Err(StoreError::Expired { .. })), "{page:?}");
    // Current state survives compaction.
    assert_eq!(s.get("/c/a").await.unwrap().unwrap().value, vec![4u8]);
    assert_eq!(
        s.list("/c/", ListOptions::default())
            .await
            .unwrap()
            .items
            .len(),
        6
    );
    let mut w = s.watch("/c/", now).await.unwrap();
    let next = s.create("/c/y", b"y".to_vec()).await.unwrap();
    assert_eq!(
        next_event(&mut w).await.revision(),
        next,
        "watching from the compacted revision works"
    );
}

async fn one_cas_winner_per_round(s: Arc<dyn Store>) {
    let key = "/cas/counter";
    s.create(key, b"0".to_vec()).await.unwrap();
    let mut winning_revs = Vec::new();
    for round in 0..10 {
        let base = s.get(key).await.unwrap().unwrap().mod_revision;
        let attempts = (0..16).map(|i| {
            let s = s.clone();
            async move {
                s.update(key, format!("{round}-{i}").into_bytes(), Some(base))
                    .await
            }
        });
        let results = join_all(attempts).await;
        let wins: Vec<i64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        assert_eq!(
            wins.len(),
            1,
            "exactly one writer wins round {round}: {results:?}"
        );
        assert!(results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict { .. }))));
        winning_revs.push(wins[0]);
    }
    assert!(
        winning_revs.windows(2).all(|w| w[0] < w[1]),
        "winning revisions are ordered"
    );
}

async fn concurrent_writes_unique_revisions_and_ordered_watch(s: Arc<dyn Store>) {
    let start = s.current_revision().await.unwrap();
    let mut w = s.watch("/cw/", start).await.unwrap();
    let writers = (0..8).map(|t| {
        let s = s.clone();
        tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..25 {
                revs.push(
                    s.create(&format!("/cw/{t}/{i}"), vec![t as u8])
                        .await
                        .unwrap(),
                );
            }
            revs
        })
    });
    let mut all = BTreeSet::new();
    for h in join_all(writers).await {
        let revs = h.unwrap();
        assert!(
            revs.windows(2).all(|p| p[0] < p[1]),
            "each writer sees its revisions increase"
        );
        for r in revs {
            assert!(all.insert(r), "revision {r} handed out twice");
        }
    }
    let mut seen = Vec::new();
    while seen.len() < all.len() {
        seen.push(next_event(&mut w).await.revision());
    }
    assert!(
        seen.windows(2).all(|p| p[0] < p[1]),
        "the watch delivers in revision order"
    );
    assert_eq!(
        seen.into_iter().collect::<BTreeSet<_>>(),
        all,
        "and misses nothing"
    );
}

async fn guaranteed_update_never_loses_an_increment(s: Arc<dyn Store>) {
    s.create("/g/n", b"0".to_vec()).await.unwrap();
    let tasks = (0..8).map(|_| {
        let s = s.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                guaranteed_update(&*s, "/g/n", |old| {
                    let n: u64 = std::str::from_utf8(&old.unwrap().value)
                        .unwrap()
                        .parse()
                        .unwrap();
                    Ok(Some((n + 1).to_string().into_bytes()))
                })
                .await
                .unwrap();
            }
        })
    });
    for t in join_all(tasks).await {
        t.unwrap();
    }
    assert_eq!(&s.get("/g/n").await.unwrap().unwrap().value[..], b"80");
}

async fn run_suite(b: Backend) {
    eprintln!("conformance: {}", b.name);
    let s = b.store.clone();
    create_get_and_revisions(&*s).await;
    update_and_cas(&*s).await;
    delete_and_cas(&*s).await;
    list_by_prefix(&*s).await;
    pagination_is_consistent(&*s).await;
    watch_delivers_changes_in_order_with_prev(&*s).await;
    watch_resumes_from_a_revision(&*s).await;
    one_cas_winner_per_round(s.clone()).await;
    concurrent_writes_unique_revisions_and_ordered_watch(s.clone()).await;
    guaranteed_update_never_loses_an_increment(s.clone()).await;
    compaction_expires_old_revisions(&*s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_conforms() {
    run_suite(common::memory(StoreConfig::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn durable_store_conforms() {
    run_suite(common::durable(StoreConfig::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_store_conforms() {
    let Some(backend) = common::etcd().await else {
        return;
    };
    run_suite(backend).await;
}

/// A watcher that never reads must not stall writers; it is closed with Expired instead.
async fn slow_watcher_is_expired_not_blocking(b: Backend) {
    let s = b.store;
    let mut slow = s.watch("/s/", 0).await.unwrap();
    let mut fast = s.watch("/s/", 0).await.unwrap();
    let writes = tokio::time::timeout(Duration::from_secs(30), async {
        for i in 0..200 {
            s.create(&format!("/s/{i}"), vec![0]).await.unwrap();
            // The fast watcher keeps up.
            assert_eq!(next_event(&mut fast).await.kv.key, format!("/s/{i}"));
        }
    })
    .await;
    assert!(writes.is_ok(), "writers were stalled by a slow watcher");
    let mut got = 0;
    loop {
        match slow.next().await {
            Some(Ok(_)) => got += 1,
            Some(Err(StoreError::Expired { .. })) => break,
            other => panic!("want events then Expired, got {other:?}"),
        }
    }
    assert_eq!(
        got, 16,
        "the slow watcher got its buffer's worth, then Expired"
    );
}

#[tokio::test]
async fn slow_watchers_expire_memory() {
    let config = StoreConfig {
        watch_buffer: 16,
        ..StoreConfig::default()
    };
    slow_watcher_is_expired_not_blocking(common::memory(config)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_watchers_expire_durable() {
    let config = StoreConfig {
        watch_buffer: 16,
        ..StoreConfig::default()
    };
    slow_watcher_is_expired_not_blocking(common::durable(config)).await;
}

/// History beyond the window is compacted automatically; current state is kept.
#[tokio::test]
async fn history_window_compacts_automatically() {
    for b in [
        common::memory(StoreConfig {
            history_window: 10,
            ..StoreConfig::default()
        }),
        common::durable(StoreConfig {
            history_window: 10,
            ..StoreConfig::default()
        }),
    ] {
        let s = b.store;
        let first = s.create("/h/0", vec![0]).await.unwrap();
        for i in 1..30 {
            s.create(&format!("/h/{i}"), vec![0]).await.unwrap();
        }
        assert!(
            matches!(s.watch("/h/", first).await, Err(StoreError::Expired { .. })),
            "{}",
            b.name
        );
        let recent = s.current_revision().await.unwrap() - 5;
        assert!(s.watch("/h/", recent).await.is_ok(), "{}", b.name);
        assert_eq!(
            s.list("/h/", ListOptions::default())
                .await
                .unwrap()
                .items
                .len(),
            30
        );
    }
}
