//! The nftables proxy's rules as data: [`Ruleset::build`] turns the proxied ports into the chains,
//! map elements and set elements one private table must hold, and [`Ruleset::diff`] turns two
//! rulesets into the `nft -j` commands that change the first into the second — only what changed,
//! in an order the kernel accepts, to be applied as one transaction. No I/O here.
//!
//! The table (family `ip`), in nft's own notation:
//!
//! ```text
//! map service-ips            { ipv4_addr . inet_proto . inet_service : verdict }  ClusterIP -> goto svc-…
//! map service-nodeports      { inet_proto . inet_service : verdict }              NodePort  -> goto ext-…
//! map no-endpoint-services   { ipv4_addr . inet_proto . inet_service : verdict }  -> goto reject-chain
//! map no-endpoint-nodeports  { inet_proto . inet_service : verdict }              -> goto reject-chain
//! set hairpin                { ipv4_addr . ipv4_addr }                            endpoint . endpoint
//!
//! chain nat-prerouting  { type nat hook prerouting priority dstnat; jump services }
//! chain nat-output      { type nat hook output priority -100; jump services }
//! chain nat-postrouting { type nat hook postrouting priority srcnat; jump masquerading }
//! chain filter-{input,forward,output} { type filter hook … priority -110; ct state new jump endpoints-check }
//! chain services {
//!     ip daddr . meta l4proto . th dport vmap @service-ips
//!     ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @service-nodeports
//! }
//! chain endpoints-check { the same two lookups in the no-endpoint maps }
//! chain reject-chain { reject }
//! chain mark-for-masquerade { meta mark set meta mark | 0x4000 }
//! chain masquerading {
//!     ip saddr . ip daddr @hairpin masquerade          a pod reaching itself through its Service
//!     meta mark & 0x4000 == 0 return
//!     meta mark set meta mark ^ 0x4000
//!     masquerade                                       NodePort traffic
//! }
//! chain svc-NS/NAME/PROTO/PORT { meta l4proto tcp dnat ip to numgen random mod N map { 0 : ip . port, … } }
//! chain ext-NS/NAME/PROTO/PORT { jump mark-for-masquerade; goto svc-… }
//! ```
//!
//! This is kube-proxy's nftables layout, with one simplification: an endpoint is picked by one
//! `numgen` map lookup inside the service chain rather than a chain per endpoint, and hairpin
//! traffic is found by one set lookup (`saddr . daddr` equal to an endpoint twice) in postrouting.
//! So a Service costs one chain and one rule whatever its endpoints, and an endpoint change rewrites
//! one rule. Only `sessionAffinity: ClientIP` needs per-endpoint state, so only those Services get
//! kube-proxy's per-endpoint chains (`ep-…`) and recent-client sets (`aff-…`, with the timeout).
//!
//! The `nftables` crate's types describe every rule; its map declarations have no `verdict` data
//! type (0.6.3), so the four verdict maps are declared as JSON in [`skeleton`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{Ipv4Addr, SocketAddr};

use nftables::expr::{
    BinaryOperation, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, NgMode,
    Numgen, Payload, PayloadField, Prefix, SetItem, Verdict,
};
use nftables::schema::{
    Chain, Element, FlushObject, NfCmd, NfListObject, NfObject, Rule, Set, SetFlag, SetType,
    SetTypeValue, Table,
};
use nftables::stmt::{JumpTarget, Mangle, Match, Operator, Statement, VerdictMap, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde_json::{json, Value};

use super::super::model::{Protocol, ProxiedPort};

/// The packet mark bit that asks postrouting to masquerade (kube-proxy's 0x4000).
pub const MASQUERADE_MARK: u32 = 0x4000;

/// A rule: its statements.
pub type RuleExpr = Vec<Statement<'static>>;

/// Everything the table holds beyond its fixed [`skeleton`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// The table's name.
    pub table: String,
    /// Per-Service chains (`svc-`, `ext-`, `ep-`) and their rules.
    pub chains: BTreeMap<String, Vec<RuleExpr>>,
    /// ClusterIP . protocol . port -> the chain that picks an endpoint.
    pub service_ips: BTreeMap<(Ipv4Addr, Protocol, u16), String>,
    /// protocol . NodePort -> the chain that marks for masquerade and picks an endpoint.
    pub node_ports: BTreeMap<(Protocol, u16), String>,
    /// ClusterIP ports without endpoints: rejected.
    pub no_endpoints: BTreeSet<(Ipv4Addr, Protocol, u16)>,
    /// NodePorts without endpoints: rejected.
    pub no_endpoint_node_ports: BTreeSet<(Protocol, u16)>,
    /// Endpoint addresses (for hairpin masquerade).
    pub hairpin: BTreeSet<Ipv4Addr>,
    /// Affinity sets and their timeout in seconds.
    pub affinity_sets: BTreeMap<String, u32>,
}

fn text(s: impl Into<String>) -> Expression<'static> {
    Expression::String(Cow::Owned(s.into()))
}

fn field(protocol: &'static str, name: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Borrowed(protocol),
            field: Cow::Borrowed(name),
        },
    )))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn concat(items: Vec<Expression<'static>>) -> Expression<'static> {
    Expression::Named(NamedExpression::Concat(items))
}

fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn goto(chain: &str) -> Expression<'static> {
    Expression::Verdict(Verdict::Goto(target(chain)))
}

fn target(chain: &str) -> JumpTarget<'static> {
    JumpTarget {
        target: Cow::Owned(chain.to_string()),
    }
}

fn proto(p: Protocol) -> Expression<'static> {
    text(p.to_string())
}

/// `ip daddr . meta l4proto . th dport`
fn service_key() -> Expression<'static> {
    concat(vec![
        field("ip", "daddr"),
        meta(MetaKey::L4proto),
        field("th", "dport"),
    ])
}

/// `meta l4proto . th dport`
fn node_port_key() -> Expression<'static> {
    concat(vec![meta(MetaKey::L4proto), field("th", "dport")])
}

/// `ip daddr != 127.0.0.0/8 fib daddr type local`: an address of this node (NodePorts are not
/// served on loopback: a pod cannot answer a packet from 127.0.0.1, as in kube-proxy's nftables mode).
fn to_this_node() -> [Statement<'static>; 2] {
    [
        matches(
            field("ip", "daddr"),
            Operator::NEQ,
            Expression::Named(NamedExpression::Prefix(Prefix {
                addr: Box::new(text("127.0.0.0")),
                len: 8,
            })),
        ),
        matches(
            Expression::Named(NamedExpression::Fib(Fib {
                result: FibResult::Type,
                flags: HashSet::from([FibFlag::Daddr]),
            })),
            Operator::EQ,
            text("local"),
        ),
    ]
}

fn vmap(key: Expression<'static>, map: &str) -> Statement<'static> {
    Statement::VerdictMap(VerdictMap {
        key,
        data: text(format!("@{map}")),
    })
}

fn element_key(ip: Option<Ipv4Addr>, p: Protocol, port: u16) -> Expression<'static> {
    let mut parts = Vec::new();
    if let Some(ip) = ip {
        parts.push(text(ip.to_string()));
    }
    parts.push(proto(p));
    parts.push(Expression::Number(u32::from(port)));
    concat(parts)
}

/// `meta l4proto P dnat ip to numgen random mod N map { 0 : ip . port, … }`
fn dnat_random(p: Protocol, endpoints: &[SocketAddr]) -> RuleExpr {
    let items = endpoints
        .iter()
        .enumerate()
        .map(|(i, ep)| {
            SetItem::Mapping(
                Expression::Number(u32::try_from(i).unwrap_or(u32::MAX)),
                concat(vec![
                    text(ep.ip().to_string()),
                    Expression::Number(u32::from(ep.port())),
                ]),
            )
        })
        .collect();
    vec![
        matches(meta(MetaKey::L4proto), Operator::EQ, proto(p)),
        Statement::DNAT(Some(NAT {
            addr: Some(Expression::Named(NamedExpression::Map(Box::new(
                nftables::expr::Map {
                    key: numgen(endpoints.len()),
                    data: Expression::Named(NamedExpression::Set(items)),
                },
            )))),
            family: Some(nftables::stmt::NATFamily::IP),
            port: None,
            flags: None,
        })),
    ]
}

fn numgen(n: usize) -> Expression<'static> {
    Expression::Named(NamedExpression::Numgen(Numgen {
        mode: NgMode::Random,
        ng_mod: u32::try_from(n).unwrap_or(u32::MAX),
        offset: None,
    }))
}

/// The chain name of a Service port: `svc-` + namespace/name/protocol/port-name (as kube-proxy's
/// `service-…-ns/name/proto/port`, readable in `nft list table`).
fn chain_name(prefix: &str, port: &ProxiedPort) -> String {
    let (service, port_name) = port.name.split_once(':').unwrap_or((&port.name, ""));
    format!("{prefix}-{service}/{}/{port_name}", port.protocol)
}

impl Ruleset {
    /// The rules that forward `ports` in table `table`.
    pub fn build(table: &str, ports: &[ProxiedPort]) -> Self {
        let mut r = Ruleset {
            table: table.to_string(),
            ..Ruleset::default()
        };
        for port in ports {
            let key = (port.cluster_ip, port.protocol, port.port);
            if port.endpoints.is_empty() {
                r.no_endpoints.insert(key);
                if let Some(np) = port.node_port {
                    r.no_endpoint_node_ports.insert((port.protocol, np));
                }
                continue;
            }
            let svc = chain_name("svc", port);
            r.hairpin
                .extend(port.endpoints.iter().filter_map(|e| match e.ip() {
                    std::net::IpAddr::V4(ip) => Some(ip),
                    std::net::IpAddr::V6(_) => None,
                }));
            let rules = match port.affinity {
                None => vec![dnat_random(port.protocol, &port.endpoints)],
                Some(timeout) => r.affinity_chains(port, &svc, timeout.as_secs()),
            };
            r.chains.insert(svc.clone(), rules);
            r.service_ips.insert(key, svc.clone());
            if let Some(np) = port.node_port {
                let ext = chain_name("ext", port);
                r.chains.insert(
                    ext.clone(),
                    vec![
                        vec![Statement::Jump(target("mark-for-masquerade"))],
                        vec![Statement::Goto(target(&svc))],
                    ],
                );
                r.node_ports.insert((port.protocol, np), ext);
            }
        }
        r
    }

    /// ClientIP affinity: a recent client goes back to its endpoint; a new one is spread at random
    /// and remembered by its endpoint's chain (kube-proxy's layout).
    fn affinity_chains(&mut self, port: &ProxiedPort, svc: &str, timeout: u64) -> Vec<RuleExpr> {
        let (_, tail) = svc.split_once('-').unwrap_or(("", svc));
        let mut rules = Vec::new();
        let mut picks = Vec::new();
        for (i, ep) in port.endpoints.iter().enumerate() {
            let ep_chain = format!("ep-{ep}-{tail}");
            let set = format!("aff-{ep}-{tail}");
            self.affinity_sets
                .insert(set.clone(), u32::try_from(timeout).unwrap_or(u32::MAX));
            rules.push(vec![
                matches(field("ip", "saddr"), Operator::EQ, text(format!("@{set}"))),
                Statement::Goto(target(&ep_chain)),
            ]);
            picks.push(SetItem::Mapping(
                Expression::Number(u32::try_from(i).unwrap_or(u32::MAX)),
                goto(&ep_chain),
            ));
            self.chains.insert(
                ep_chain,
                vec![
                    vec![Statement::Set(nftables::stmt::Set {
                        op: nftables::stmt::SetOp::Update,
                        elem: field("ip", "saddr"),
                        set: Cow::Owned(format!("@{set}")),
                    })],
                    vec![
                        matches(meta(MetaKey::L4proto), Operator::EQ, proto(port.protocol)),
                        Statement::DNAT(Some(NAT {
                            addr: Some(text(ep.ip().to_string())),
                            family: None,
                            port: Some(Expression::Number(u32::from(ep.port()))),
                            flags: None,
                        })),
                    ],
                ],
            );
        }
        rules.push(vec![Statement::VerdictMap(VerdictMap {
            key: numgen(port.endpoints.len()),
            data: Expression::Named(NamedExpression::Set(picks)),
        })]);
        rules
    }

    /// The commands that turn `old` (None: whatever a predecessor left, replaced whole) into `self`.
    pub fn diff(&self, old: Option<&Ruleset>) -> Vec<Value> {
        let mut out = Vec::new();
        let empty = Ruleset {
            table: self.table.clone(),
            ..Ruleset::default()
        };
        let old = match old {
            Some(old) => old,
            None => {
                out.extend(skeleton(&self.table));
                &empty
            }
        };
        let t = &self.table;
        // New affinity sets and chains first: rules and elements may name them.
        for (set, timeout) in &self.affinity_sets {
            if !old.affinity_sets.contains_key(set) {
                out.push(add(NfListObject::Set(Box::new(affinity_set(
                    t, set, *timeout,
                )))));
            }
        }
        for name in self.chains.keys() {
            if !old.chains.contains_key(name) {
                out.push(add(NfListObject::Chain(chain(t, name))));
            }
        }
        // Changed chains are rewritten; new ones filled.
        for (name, rules) in &self.chains {
            match old.chains.get(name) {
                Some(before) if before == rules => continue,
                Some(_) => out.push(cmd(NfCmd::Flush(FlushObject::Chain(chain(t, name))))),
                None => {}
            }
            for expr in rules {
                out.push(add(NfListObject::Rule(rule(t, name, expr.clone()))));
            }
        }
        // Map and set elements: removed and changed ones out, new and changed ones in.
        diff_map(
            &mut out,
            t,
            "service-ips",
            &old.service_ips,
            &self.service_ips,
            |(ip, p, port)| element_key(Some(*ip), *p, *port),
        );
        diff_map(
            &mut out,
            t,
            "service-nodeports",
            &old.node_ports,
            &self.node_ports,
            |(p, port)| element_key(None, *p, *port),
        );
        diff_map(
            &mut out,
            t,
            "no-endpoint-services",
            &rejected(&old.no_endpoints),
            &rejected(&self.no_endpoints),
            |(ip, p, port)| element_key(Some(*ip), *p, *port),
        );
        diff_map(
            &mut out,
            t,
            "no-endpoint-nodeports",
            &rejected(&old.no_endpoint_node_ports),
            &rejected(&self.no_endpoint_node_ports),
            |(p, port)| element_key(None, *p, *port),
        );
        let pair = |ip: &Ipv4Addr| concat(vec![text(ip.to_string()), text(ip.to_string())]);
        let gone: Vec<_> = old.hairpin.difference(&self.hairpin).map(pair).collect();
        let new: Vec<_> = self.hairpin.difference(&old.hairpin).map(pair).collect();
        if !gone.is_empty() {
            out.push(cmd(NfCmd::Delete(NfListObject::Element(element(
                t, "hairpin", gone,
            )))));
        }
        if !new.is_empty() {
            out.push(add(NfListObject::Element(element(t, "hairpin", new))));
        }
        // Chains no longer wanted: emptied first (they may jump to one another), then deleted.
        let removed: Vec<&String> = old
            .chains
            .keys()
            .filter(|c| !self.chains.contains_key(*c))
            .collect();
        for name in &removed {
            out.push(cmd(NfCmd::Flush(FlushObject::Chain(chain(t, name)))));
        }
        for name in &removed {
            out.push(cmd(NfCmd::Delete(NfListObject::Chain(chain(t, name)))));
        }
        for set in old.affinity_sets.keys() {
            if !self.affinity_sets.contains_key(set) {
                out.push(cmd(NfCmd::Delete(NfListObject::Set(Box::new(
                    affinity_set(t, set, 0),
                )))));
            }
        }
        out
    }
}

/// Every key of `set` mapped to `goto reject-chain`.
fn rejected<K: Ord + Copy>(set: &BTreeSet<K>) -> BTreeMap<K, String> {
    set.iter()
        .map(|k| (*k, "reject-chain".to_string()))
        .collect()
}

fn diff_map<K: Ord>(
    out: &mut Vec<Value>,
    table: &str,
    map: &str,
    old: &BTreeMap<K, String>,
    new: &BTreeMap<K, String>,
    key: impl Fn(&K) -> Expression<'static>,
) {
    let gone: Vec<_> = old
        .iter()
        .filter(|(k, v)| new.get(*k) != Some(*v))
        .map(|(k, _)| key(k))
        .collect();
    let added: Vec<_> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| Expression::List(vec![key(k), goto(v)]))
        .collect();
    if !gone.is_empty() {
        out.push(cmd(NfCmd::Delete(NfListObject::Element(element(
            table, map, gone,
        )))));
    }
    if !added.is_empty() {
        out.push(add(NfListObject::Element(element(table, map, added))));
    }
}

fn to_value(object: NfObject<'_>) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn cmd(c: NfCmd<'_>) -> Value {
    to_value(NfObject::CmdObject(c))
}

fn add(o: NfListObject<'_>) -> Value {
    cmd(NfCmd::Add(o))
}

fn chain(table: &str, name: &str) -> Chain<'static> {
    Chain {
        family: NfFamily::IP,
        table: Cow::Owned(table.to_string()),
        name: Cow::Owned(name.to_string()),
        ..Chain::default()
    }
}

fn base_chain(
    table: &str,
    name: &str,
    kind: NfChainType,
    hook: NfHook,
    prio: i32,
) -> Chain<'static> {
    Chain {
        _type: Some(kind),
        hook: Some(hook),
        prio: Some(prio),
        policy: Some(NfChainPolicy::Accept),
        ..chain(table, name)
    }
}

fn rule(table: &str, chain: &str, expr: RuleExpr) -> Rule<'static> {
    Rule {
        family: NfFamily::IP,
        table: Cow::Owned(table.to_string()),
        chain: Cow::Owned(chain.to_string()),
        expr: Cow::Owned(expr),
        handle: None,
        index: None,
        comment: None,
    }
}

fn element(table: &str, name: &str, elem: Vec<Expression<'static>>) -> Element<'static> {
    Element {
        family: NfFamily::IP,
        table: Cow::Owned(table.to_string()),
        name: Cow::Owned(name.to_string()),
        elem: Cow::Owned(elem),
    }
}

fn affinity_set(table: &str, name: &str, timeout: u32) -> Set<'static> {
    Set {
        family: NfFamily::IP,
        table: Cow::Owned(table.to_string()),
        name: Cow::Owned(name.to_string()),
        set_type: SetTypeValue::Single(SetType::Ipv4Addr),
        // nft 1.0.6's JSON knows no `dynamic` flag; nft adds it for a set the packet path updates.
        flags: Some(HashSet::from([SetFlag::Timeout])),
        timeout: (timeout > 0).then_some(timeout),
        ..Set::default()
    }
}

/// The fixed part of the table, replacing whatever a predecessor left: `add table` then `delete
/// table` (so the delete never fails on a table that is absent), then the table afresh.
pub fn skeleton(table: &str) -> Vec<Value> {
    let t = table;
    let mut out = vec![
        add(NfListObject::Table(Table {
            family: NfFamily::IP,
            name: Cow::Owned(t.to_string()),
            handle: None,
        })),
        cmd(NfCmd::Delete(NfListObject::Table(Table {
            family: NfFamily::IP,
            name: Cow::Owned(t.to_string()),
            handle: None,
        }))),
        add(NfListObject::Table(Table {
            family: NfFamily::IP,
            name: Cow::Owned(t.to_string()),
            handle: None,
        })),
    ];
    // The crate's Map has no `verdict` data type: these four are written as nft's JSON directly.
    for (name, key) in [
        (
            "service-ips",
            json!(["ipv4_addr", "inet_proto", "inet_service"]),
        ),
        ("service-nodeports", json!(["inet_proto", "inet_service"])),
        (
            "no-endpoint-services",
            json!(["ipv4_addr", "inet_proto", "inet_service"]),
        ),
        (
            "no-endpoint-nodeports",
            json!(["inet_proto", "inet_service"]),
        ),
    ] {
        out.push(json!({"add": {"map": {
            "family": "ip", "table": t, "name": name, "type": key, "map": "verdict"
        }}}));
    }
    out.push(add(NfListObject::Set(Box::new(Set {
        family: NfFamily::IP,
        table: Cow::Owned(t.to_string()),
        name: Cow::Borrowed("hairpin"),
        set_type: SetTypeValue::Concatenated(Cow::Owned(vec![
            SetType::Ipv4Addr,
            SetType::Ipv4Addr,
        ])),
        ..Set::default()
    }))));
    let bases = [
        (
            "nat-prerouting",
            NfChainType::NAT,
            NfHook::Prerouting,
            -100,
            "services",
        ),
        (
            "nat-output",
            NfChainType::NAT,
            NfHook::Output,
            -100,
            "services",
        ),
        (
            "nat-postrouting",
            NfChainType::NAT,
            NfHook::Postrouting,
            100,
            "masquerading",
        ),
        (
            "filter-input",
            NfChainType::Filter,
            NfHook::Input,
            -110,
            "endpoints-check",
        ),
        (
            "filter-forward",
            NfChainType::Filter,
            NfHook::Forward,
            -110,
            "endpoints-check",
        ),
        (
            "filter-output",
            NfChainType::Filter,
            NfHook::Output,
            -110,
            "endpoints-check",
        ),
    ];
    for name in [
        "services",
        "endpoints-check",
        "reject-chain",
        "mark-for-masquerade",
        "masquerading",
    ] {
        out.push(add(NfListObject::Chain(chain(t, name))));
    }
    for (name, kind, hook, prio, to) in bases {
        out.push(add(NfListObject::Chain(base_chain(
            t, name, kind, hook, prio,
        ))));
        let mut expr = Vec::new();
        if kind == NfChainType::Filter {
            // Only a connection's first packet is checked.
            expr.push(matches(
                Expression::Named(NamedExpression::CT(nftables::expr::CT {
                    key: Cow::Borrowed("state"),
                    family: None,
                    dir: None,
                })),
                Operator::IN,
                text("new"),
            ));
        }
        expr.push(Statement::Jump(target(to)));
        out.push(add(NfListObject::Rule(rule(t, name, expr))));
    }
    let lookups = |ips: &str, ports: &str| {
        let [not_loopback, local] = to_this_node();
        vec![
            vec![vmap(service_key(), ips)],
            vec![not_loopback, local, vmap(node_port_key(), ports)],
        ]
    };
    for expr in lookups("service-ips", "service-nodeports") {
        out.push(add(NfListObject::Rule(rule(t, "services", expr))));
    }
    for expr in lookups("no-endpoint-services", "no-endpoint-nodeports") {
        out.push(add(NfListObject::Rule(rule(t, "endpoints-check", expr))));
    }
    out.push(add(NfListObject::Rule(rule(
        t,
        "reject-chain",
        vec![Statement::Reject(None)],
    ))));
    let mark = || meta(MetaKey::Mark);
    let bit = || Expression::Number(MASQUERADE_MARK);
    let or = || Expression::BinaryOperation(Box::new(BinaryOperation::OR(vec![mark(), bit()])));
    let and = || Expression::BinaryOperation(Box::new(BinaryOperation::AND(mark(), bit())));
    let xor = || Expression::BinaryOperation(Box::new(BinaryOperation::XOR(mark(), bit())));
    out.push(add(NfListObject::Rule(rule(
        t,
        "mark-for-masquerade",
        vec![Statement::Mangle(Mangle {
            key: mark(),
            value: or(),
        })],
    ))));
    for expr in [
        vec![
            matches(
                concat(vec![field("ip", "saddr"), field("ip", "daddr")]),
                Operator::EQ,
                text("@hairpin"),
            ),
            Statement::Masquerade(None),
        ],
        vec![
            matches(and(), Operator::EQ, Expression::Number(0)),
            Statement::Return(None),
        ],
        vec![Statement::Mangle(Mangle {
            key: mark(),
            value: xor(),
        })],
        vec![Statement::Masquerade(None)],
    ] {
        out.push(add(NfListObject::Rule(rule(t, "masquerading", expr))));
    }
    out
}

/// The commands that remove the table (whether or not it exists).
pub fn teardown(table: &str) -> Vec<Value> {
    let t = Table {
        family: NfFamily::IP,
        name: Cow::Owned(table.to_string()),
        handle: None,
    };
    vec![
        add(NfListObject::Table(t.clone())),
        cmd(NfCmd::Delete(NfListObject::Table(t))),
    ]
}

/// The `nft -j -f -` document for `commands`.
pub fn document(commands: Vec<Value>) -> String {
    json!({ "nftables": commands }).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    fn port(name: &str, ip: &str, eps: &[&str], node_port: Option<u16>) -> ProxiedPort {
        ProxiedPort {
            name: name.into(),
            cluster_ip: ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
            port: 80,
            protocol: Protocol::Tcp,
            node_port,
            endpoints: eps.iter().filter_map(|e| e.parse().ok()).collect(),
            affinity: None,
        }
    }

    fn kinds(commands: &[Value]) -> Vec<String> {
        commands
            .iter()
            .map(|c| {
                let (verb, body) = c.as_object().unwrap().iter().next().unwrap();
                let (what, obj) = body.as_object().unwrap().iter().next().unwrap();
                let name = obj
                    .get("name")
                    .or(obj.get("chain"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                format!("{verb} {what} {name}")
            })
            .collect()
    }

    #[test]
    fn a_service_is_one_chain_one_rule_and_one_map_element() {
        let web = port(
            "default/web:",
            "10.96.0.20",
            &["10.244.0.2:8080", "10.244.0.3:8080"],
            None,
        );
        let r = Ruleset::build("t", &[web]);
        let chain = "svc-default/web/tcp/";
        assert_eq!(r.chains.len(), 1);
        assert_eq!(r.chains[chain].len(), 1);
        assert_eq!(
            r.service_ips[&("10.96.0.20".parse().unwrap(), Protocol::Tcp, 80)],
            chain
        );
        assert_eq!(r.hairpin.len(), 2);
        let doc = document(r.diff(None));
        assert!(
            doc.contains(r#"{"numgen":{"mod":2,"mode":"random"}}"#)
                || doc.contains(r#""numgen":{"mode":"random","mod":2}"#),
            "{doc}"
        );
        assert!(doc.contains(r#"{"concat":["10.244.0.3",8080]}"#), "{doc}");
        assert!(doc.contains(r#""map":"verdict""#), "{doc}");
    }

    #[test]
    fn one_endpoint_change_rewrites_one_rule_only() {
        let a = port("default/a:", "10.96.0.20", &["10.244.0.2:8080"], None);
        let b = port(
            "default/b:",
            "10.96.0.21",
            &["10.244.0.5:8080"],
            Some(30080),
        );
        let before = Ruleset::build("t", &[a.clone(), b.clone()]);
        let mut a2 = a.clone();
        a2.endpoints.push("10.244.0.3:8080".parse().unwrap());
        let after = Ruleset::build("t", &[a2, b.clone()]);
        assert_eq!(
            kinds(&after.diff(Some(&before))),
            [
                "flush chain svc-default/a/tcp/",
                "add rule svc-default/a/tcp/",
                "add element hairpin",
            ]
        );
        assert!(
            after.diff(Some(&after)).is_empty(),
            "nothing changed, nothing sent"
        );
        // Its last endpoint gone: the ClusterIP rejects; the chain goes after the element.
        let mut a3 = a;
        a3.endpoints.clear();
        let none = Ruleset::build("t", &[a3, b]);
        assert_eq!(
            kinds(&none.diff(Some(&before))),
            [
                "delete element service-ips",
                "add element no-endpoint-services",
                "delete element hairpin",
                "flush chain svc-default/a/tcp/",
                "delete chain svc-default/a/tcp/",
            ]
        );
    }

    #[test]
    fn node_ports_mark_for_masquerade_and_affinity_remembers_clients() {
        let mut p = port(
            "default/web:http",
            "10.96.0.20",
            &["10.244.0.2:8080", "10.244.0.3:8080"],
            Some(30080),
        );
        p.affinity = Some(Duration::from_secs(600));
        let r = Ruleset::build("t", &[p]);
        assert_eq!(
            r.node_ports[&(Protocol::Tcp, 30080)],
            "ext-default/web/tcp/http"
        );
        assert_eq!(r.affinity_sets.len(), 2);
        assert!(r.affinity_sets.values().all(|t| *t == 600));
        // svc chain: one sticky rule per endpoint and the random pick; two endpoint chains; ext.
        assert_eq!(r.chains["svc-default/web/tcp/http"].len(), 3);
        assert_eq!(r.chains.len(), 4);
        let doc = document(r.diff(None));
        assert!(doc.contains(r#""op":"update""#), "{doc}");
        assert!(doc.contains(r#""target":"mark-for-masquerade""#), "{doc}");
    }

    #[test]
    fn ports_without_endpoints_are_rejected_not_forwarded() {
        let r = Ruleset::build(
            "t",
            &[port("default/idle:", "10.96.0.30", &[], Some(30090))],
        );
        assert!(r.chains.is_empty() && r.service_ips.is_empty());
        assert_eq!(r.no_endpoints.len(), 1);
        assert_eq!(r.no_endpoint_node_ports.len(), 1);
    }
}
