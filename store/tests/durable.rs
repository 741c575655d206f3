//! The durable store on its own: restarts, crashes (SIGKILL at random moments), and files that are not ours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use skiff_core::store::{EventKind, ListOptions, Store, StoreError};
use skiff_store::DurableStore;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn restart_keeps_revision_objects_and_watch_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("skiff.db");
    let rt = rt();
    let (r_a, r_upd, r_del) = rt.block_on(async {
        let s = DurableStore::open(&path).unwrap();
        let r_a = s.create("/x/a", b"a1".to_vec()).await.unwrap();
        s.create("/x/b", b"b1".to_vec()).await.unwrap();
        let r_upd = s.update("/x/a", b"a2".to_vec(), Some(r_a)).await.unwrap();
        let r_del = s.delete("/x/b", None).await.unwrap().mod_revision;
        (r_a, r_upd, r_del)
    });
    rt.block_on(async {
        let s = DurableStore::open(&path).unwrap();
        assert_eq!(
            s.current_revision().await.unwrap(),
            r_del,
            "same revision after restart"
        );
        let a = s.get("/x/a").await.unwrap().unwrap();
        assert_eq!(
            (&a.value[..], a.create_revision, a.mod_revision),
            (&b"a2"[..], r_a, r_upd)
        );
        assert!(s.get("/x/b").await.unwrap().is_none());
        // Watch history resumes across the restart.
        let mut w = s.watch("/x/", r_a).await.unwrap();
        async fn next(w: &mut skiff_core::store::WatchStream) -> skiff_core::store::WatchEvent {
            tokio::time::timeout(Duration::from_secs(5), w.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
        }
        let e = next(&mut w).await;
        assert_eq!((e.kind, e.kv.key.as_str()), (EventKind::Create, "/x/b"));
        let e = next(&mut w).await;
        assert_eq!((e.kind, e.revision()), (EventKind::Update, r_upd));
        assert_eq!(&e.prev.unwrap().value[..], b"a1");
        let e = next(&mut w).await;
        assert_eq!((e.kind, e.revision()), (EventKind::Delete, r_del));
        // Revisions continue.
        let r = s.create("/x/c", b"c".to_vec()).await.unwrap();
        assert_eq!(r, r_del + 1);
        assert_eq!(next(&mut w).await.revision(), r);
    });
}

#[test]
fn foreign_or_corrupt_files_are_refused_by_path_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // Not a database at all.
    let junk = dir.path().join("junk.db");
    let content: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&junk, &content).unwrap();
    let err = DurableStore::open(&junk)
        .err()
        .expect("junk must be refused");
    assert!(
        matches!(&err, StoreError::Open { path, .. } if path.contains("junk.db")),
        "{err}"
    );
    assert!(err.to_string().contains("junk.db"));
    assert!(
        std::fs::read(&junk).unwrap() == content,
        "the file was modified"
    );

    // Another program's redb database.
    let other = dir.path().join("other.db");
    {
        let db = redb::Database::create(&other).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("settings");
            txn.open_table(def)
                .unwrap()
                .insert("theme", "dark")
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let before = std::fs::read(&other).unwrap();
    let err = DurableStore::open(&other)
        .err()
        .expect("a foreign database must be refused");
    assert!(
        err.to_string().contains("other.db") && err.to_string().contains("not a Skiff store"),
        "{err}"
    );
    assert!(
        std::fs::read(&other).unwrap() == before,
        "the foreign database was modified"
    );

    // A directory where the file should be.
    let err = DurableStore::open(dir.path())
        .err()
        .expect("a directory must be refused");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn a_second_open_of_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("skiff.db");
    let _first = DurableStore::open(&path).unwrap();
    let err = DurableStore::open(&path).err().expect("the file is in use");
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
}

fn crash_key(i: u64) -> String {
    format!("/crash/{i:08}")
}

fn crash_value(i: u64) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat((i % 200) as usize)).into_bytes()
}

/// Not a test on its own: the writer the crash test runs in a child process and kills.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var("SKIFF_CRASH_CHILD") else {
        return;
    };
    rt().block_on(async move {
        let store = Arc::new(DurableStore::open(&path).unwrap());
        let existing = store
            .list("/crash/", ListOptions::default())
            .await
            .unwrap()
            .items
            .len() as u64;
        // Keys already present (even unacknowledged ones) are skipped: numbering continues after them.
        let next = Arc::new(AtomicU64::new(existing));
        let out = Arc::new(Mutex::new(std::io::stdout()));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (store, next, out) = (store.clone(), next.clone(), out.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let rev = store.create(&crash_key(i), crash_value(i)).await.unwrap();
                        let mut out = out.lock().unwrap();
                        writeln!(out, "ack {i} {rev}").unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut acked_total = 0usize;
    let mut last_rev = 0i64;
    for round in 0..12 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("SKIFF_CRASH_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let acks = Arc::new(Mutex::new(Vec::<(u64, i64)>::new()));
        let reader = {
            let acks = acks.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let mut parts = line.split_whitespace();
                    if parts.next() != Some("ack") {
                        continue;
                    }
                    if let (Some(Ok(i)), Some(Ok(rev))) =
                        (parts.next().map(str::parse), parts.next().map(str::parse))
                    {
                        acks.lock().unwrap().push((i, rev));
                    }
                }
            })
        };
        // Let it write for a random while (after its first acknowledgement), then SIGKILL it.
        let started = Instant::now();
        while acks.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(20 + seed % 300));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let acks = acks.lock().unwrap().clone();
        assert!(
            !acks.is_empty(),
            "round {round}: the child acknowledged nothing"
        );

        rt().block_on(async {
            let store = DurableStore::open(&path).unwrap();
            for (i, rev) in &acks {
                let kv = store.get(&crash_key(*i)).await.unwrap();
                let kv = kv.unwrap_or_else(|| {
                    panic!("round {round}: acknowledged write {i} (rev {rev}) lost")
                });
                assert_eq!(kv.mod_revision, *rev, "round {round}: write {i}");
                assert_eq!(
                    kv.value,
                    crash_value(*i),
                    "round {round}: write {i} half-written"
                );
            }
            let all = store.list("/crash/", ListOptions::default()).await.unwrap();
            for kv in &all.items {
                let i: u64 = kv.key.trim_start_matches("/crash/").parse().unwrap();
                assert_eq!(
                    kv.value,
                    crash_value(i),
                    "round {round}: {} half-written",
                    kv.key
                );
            }
            let revs: Vec<i64> = all.items.iter().map(|kv| kv.mod_revision).collect();
            let unique: std::collections::BTreeSet<_> = revs.iter().collect();
            assert_eq!(
                unique.len(),
                revs.len(),
                "round {round}: a revision was reused"
            );
            let max_acked = acks.iter().map(|a| a.1).max().unwrap();
            let current = store.current_revision().await.unwrap();
            assert!(
                current >= max_acked && current > last_rev,
                "round {round}: revisions went backwards"
            );
            last_rev = current;
            acked_total += acks.len();
        });
    }
    eprintln!("crash test: {acked_total} acknowledged writes over 12 SIGKILLs, none lost");
}
