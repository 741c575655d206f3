//! Rule programming of the nftables proxy against the real kernel (needs root and `nft`): 10,000
//! ClusterIP Services with 10 endpoints each (and a NodePort on every tenth), in a table of its own.
//!
//! - full sync: the whole table from nothing (what a proxy does on start), build + diff + one `nft`
//!   transaction, median of 5;
//! - one change: one Service's endpoints change among the 10,000 (one endpoint replaced), the
//!   transaction holding only that, p50 / p99 of 100; and the same through [`NftablesProxy::sync`]
//!   (which also diffs the whole model each time).
//!
//! `cargo bench -p skiff-controllers --bench nftables_rules`. Prints a table; not a test. The
//! Services' addresses are in 10.200.0.0/16 and 10.201.0.0/16 and nothing routes to them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

use skiff_controllers::proxy::model::Protocol;
use skiff_controllers::proxy::nftables::Ruleset;
use skiff_controllers::proxy::nftables::{Kernel, Netfilter, NftablesProxy};
use skiff_controllers::proxy::userspace::UserspaceProxy;
use skiff_controllers::proxy::{Addresses, ProxiedPort, Proxy, ProxyError, ProxyState};

const SERVICES: u32 = 10_000;
const ENDPOINTS: u32 = 10;
const CHANGES: usize = 100;

fn ports(generation: u32) -> Vec<ProxiedPort> {
    (0..SERVICES)
        .map(|i| {
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 200, 0, 0)) + i);
            let endpoints = (0..ENDPOINTS)
                .map(|e| {
                    let n = u32::from(Ipv4Addr::new(10, 201, 0, 0)) + (i * ENDPOINTS + e) % 65_000;
                    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(n), 8080))
                })
                .collect();
            let mut p = ProxiedPort {
                name: format!("bench/svc-{i}:http"),
                cluster_ip: ip,
                port: 80,
                protocol: Protocol::Tcp,
                node_port: (i % 10 == 0).then(|| 30_000 + (i / 10) as u16),
                external_ips: vec![],
                endpoints,
                affinity: None,
            };
            if generation > 0 && i == 4_242 {
                p.endpoints[0] = SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::new(10, 202, (generation >> 8) as u8, generation as u8),
                    8080,
                ));
            }
            p
        })
        .collect()
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

struct NoAddresses;

#[async_trait::async_trait]
impl Addresses for NoAddresses {
    async fn sync(&self, _: &[Ipv4Addr]) -> Result<(), ProxyError> {
        Ok(())
    }
    async fn cleanup(&self) -> Result<(), ProxyError> {
        Ok(())
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    if !rt.block_on(Kernel::available()) {
        println!("nftables_rules: skipped (root and nft needed)");
        return;
    }
    let table = "skiff-bench-rules";
    let kernel = Kernel;
    let base = ports(0);
    let full_model = Ruleset::build(table, &base);
    let mut full = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let model = Ruleset::build(table, &base);
        let doc = model.diff(None);
        size = doc.len();
        rt.block_on(kernel.apply(doc)).unwrap();
        full.push(ms(t));
    }
    // One Service's endpoint replaced, 100 times: build + diff + apply.
    let mut one = Vec::new();
    let mut parts: [Vec<f64>; 3] = Default::default();
    let mut before = full_model;
    for g in 1..=CHANGES as u32 {
        let next = ports(g);
        let t = Instant::now();
        let model = Ruleset::build(table, &next);
        parts[0].push(ms(t));
        let d = Instant::now();
        let commands = model.diff(Some(&before));
        parts[1].push(ms(d));
        let a = Instant::now();
        rt.block_on(kernel.apply(commands)).unwrap();
        parts[2].push(ms(a));
        one.push(ms(t));
        before = model;
    }
    // The same through the proxy backend (its own bookkeeping included).
    let proxy = NftablesProxy::new(
        table,
        Arc::new(Kernel),
        UserspaceProxy::new(Arc::new(NoAddresses)),
    );
    let mut through = Vec::new();
    rt.block_on(proxy.sync(&ProxyState { ports: ports(0) }))
        .unwrap();
    for g in 1..=CHANGES as u32 {
        let state = ProxyState { ports: ports(g) };
        let t = Instant::now();
        rt.block_on(proxy.sync(&state)).unwrap();
        through.push(ms(t));
    }
    let listed = std::process::Command::new("nft")
        .args(["list", "table", "ip", table])
        .output()
        .unwrap();
    let chains = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with("chain "))
        .count();
    rt.block_on(proxy.cleanup()).unwrap();
    println!(
        "nftables_rules ({SERVICES} Services x {ENDPOINTS} endpoints, {} NodePorts; {chains} chains; full script {:.1} MB)",
        SERVICES / 10,
        size as f64 / 1e6
    );
    println!("| measure | p50 | p99 | target |");
    println!("|---|---|---|---|");
    println!(
        "| full sync (build + diff + nft), median of 5 | {:.0} ms | {:.0} ms (max) | <= 2000 ms |",
        pct(&mut full, 0.5),
        pct(&mut full, 1.0)
    );
    println!(
        "| one endpoint change: diff + nft transaction ({CHANGES}) | {:.1} ms | {:.1} ms | <= 50 ms |",
        pct(&mut one, 0.5),
        pct(&mut one, 0.99)
    );
    let [mut build, mut diff, mut nft] = parts;
    println!(
        "| of which build / diff / nft, p50 | {:.1} / {:.1} / {:.1} ms | | |",
        pct(&mut build, 0.5),
        pct(&mut diff, 0.5),
        pct(&mut nft, 0.5)
    );
    println!(
        "| one endpoint change through NftablesProxy::sync ({CHANGES}) | {:.1} ms | {:.1} ms | <= 50 ms |",
        pct(&mut through, 0.5),
        pct(&mut through, 0.99)
    );
}
