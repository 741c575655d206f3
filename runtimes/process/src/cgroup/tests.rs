#![allow(clippy::unwrap_used)]

use super::*;

fn v2_tree() -> (tempfile::TempDir, CgroupManager) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
    let m = CgroupManager::new(Arc::new(RealFs), root.path(), CgroupVersion::V2);
    (root, m)
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn v2_writes_kubelet_conversions_and_delegates_controllers() {
    let (root, m) = v2_tree();
    let res = Resources {
        cpu_shares: Some(256),
        cpu_quota_us: Some(50_000),
        memory_limit_bytes: Some(64 << 20),
    };
    m.create("skiff/podA/c1", &res).unwrap();
    let dir = root.path().join("skiff/podA/c1");
    assert_eq!(read(dir.join("cpu.max")), "50000 100000");
    assert_eq!(read(dir.join("memory.max")), (64u64 << 20).to_string());
    // 256 shares -> weight 1 + 254*9999/262142 = 10
    assert_eq!(read(dir.join("cpu.weight")), "10");
    // the last write to each parent's subtree_control enables pids (the test tree keeps the last one)
    assert_eq!(
        read(root.path().join("skiff/podA/cgroup.subtree_control")),
        "+pids"
    );
    assert_eq!(
        m.procs_files("skiff/podA/c1"),
        vec![dir.join("cgroup.procs")]
    );
}

#[test]
fn v2_counters_are_read_from_memory_events_and_cpu_stat() {
    let (root, m) = v2_tree();
    m.create("skiff/podB/c", &Resources::default()).unwrap();
    let dir = root.path().join("skiff/podB/c");
    std::fs::write(
        dir.join("memory.events"),
        "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    )
    .unwrap();
    std::fs::write(dir.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").unwrap();
    std::fs::write(dir.join("cgroup.procs"), "12\n34\n").unwrap();
    assert_eq!(m.oom_kills("skiff/podB/c"), 1);
    assert_eq!(m.cpu_usage_ns("skiff/podB/c"), Some(1_500_000));
    assert_eq!(m.pids("skiff/podB/c"), vec![12, 34]);
    m.remove("skiff/podB").unwrap();
    assert!(!root.path().join("skiff/podB").exists());
}

#[test]
fn v1_writes_one_directory_per_controller() {
    let root = tempfile::tempdir().unwrap();
    for c in ["cpu,cpuacct", "memory", "pids"] {
        std::fs::create_dir(root.path().join(c)).unwrap();
    }
    std::os::unix::fs::symlink("cpu,cpuacct", root.path().join("cpu")).unwrap();
    std::os::unix::fs::symlink("cpu,cpuacct", root.path().join("cpuacct")).unwrap();
    let m = CgroupManager::new(Arc::new(RealFs), root.path(), CgroupVersion::V1);
    let res = Resources {
        cpu_shares: Some(512),
        cpu_quota_us: Some(25_000),
        memory_limit_bytes: Some(1 << 30),
    };
    m.create("skiff/podC/c", &res).unwrap();
    // cpu and cpuacct are one hierarchy: three directories, not four
    assert_eq!(m.dirs("x").len(), 3);
    let cpu = root.path().join("cpu/skiff/podC/c");
    assert_eq!(read(cpu.join("cpu.shares")), "512");
    assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "25000");
    assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
    let mem = root.path().join("memory/skiff/podC/c");
    assert_eq!(
        read(mem.join("memory.limit_in_bytes")),
        (1u64 << 30).to_string()
    );
    std::fs::write(
        mem.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    )
    .unwrap();
    assert_eq!(m.oom_kills("skiff/podC/c"), 2);
}

#[test]
fn weight_conversion_matches_the_kubelet() {
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(262_144), 10_000);
}
