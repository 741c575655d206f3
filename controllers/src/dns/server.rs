//! The DNS server: UDP and TCP on one address, answering the cluster zone from the informers'
//! caches ([`Zone`](super::records::Zone)) and forwarding every other question to the host's
//! resolvers.
//!
//! The wire format is hickory-proto's (the Hickory DNS project's protocol crate). The server loop is
//! written here rather than on hickory-server: a forwarded question is relayed as the bytes the client
//! sent and the upstream's reply as the bytes it sent back, so answers from outside the cluster reach
//! pods exactly as the host's resolver gave them, and the whole server stays a page long.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use skiff_core::informer::Informer;
use skiff_core::kinds::{EndpointSlice, Service};
use skiff_core::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::records::{Lookup, QueryType, RecordData, Zone, TTL};

/// How long an upstream resolver may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// Cluster DNS over the Service and EndpointSlice informers.
pub struct DnsServer {
    domain: String,
    services: Arc<Informer<Service>>,
    slices: Arc<Informer<EndpointSlice>>,
    upstream: Vec<SocketAddr>,
}

/// The nameservers of a resolv.conf (port 53), skipping `skip` (the cluster DNS's own address).
pub fn nameservers(resolv_conf: &str, skip: &[std::net::IpAddr]) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .filter(|ip| !skip.contains(ip))
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

fn query_type(t: RecordType) -> QueryType {
    match t {
        RecordType::A => QueryType::A,
        RecordType::AAAA => QueryType::Aaaa,
        RecordType::SRV => QueryType::Srv,
        RecordType::PTR => QueryType::Ptr,
        RecordType::TXT => QueryType::Txt,
        RecordType::CNAME => QueryType::Cname,
        _ => QueryType::Other,
    }
}

fn name(s: &str) -> Option<Name> {
    Name::from_ascii(s).ok()
}

fn record(owner: &str, data: &RecordData) -> Option<Record> {
    let rdata = match data {
        RecordData::A(ip) => RData::A(A(*ip)),
        RecordData::Srv { port, target } => RData::SRV(SRV::new(0, 100, *port, name(target)?)),
        RecordData::Ptr(target) => RData::PTR(PTR(name(target)?)),
        RecordData::Cname(target) => RData::CNAME(CNAME(name(target)?)),
        RecordData::Txt(text) => RData::TXT(TXT::new(vec![text.clone()])),
    };
    Some(Record::from_rdata(name(owner)?, TTL, rdata))
}

impl DnsServer {
    /// A server for the zone `domain` (`cluster.local`) forwarding other names to `upstream`.
    pub fn new(
        domain: &str,
        services: Arc<Informer<Service>>,
        slices: Arc<Informer<EndpointSlice>>,
        upstream: Vec<SocketAddr>,
    ) -> Arc<Self> {
        Arc::new(Self {
            domain: domain.trim_matches('.').to_ascii_lowercase(),
            services,
            slices,
            upstream,
        })
    }

    /// The zone's SOA (in the authority section of negative answers, as CoreDNS sends it).
    fn soa(&self) -> Option<Record> {
        let zone = name(&format!("{}.", self.domain))?;
        let soa = SOA::new(
            name(&format!("ns.dns.{}.", self.domain))?,
            name(&format!("hostmaster.{}.", self.domain))?,
            1,
            7200,
            1800,
            86400,
            TTL,
        );
        Some(Record::from_rdata(zone, TTL, RData::SOA(soa)))
    }

    /// The answer to `request` from the zone, or `None` when it is not the zone's to answer.
    pub fn answer(&self, request: &Message) -> Option<Message> {
        let query = request.queries.first()?;
        if request.metadata.op_code != OpCode::Query || request.queries.len() != 1 {
            return None;
        }
        let services = self.services.cache().list();
        let slices = self.slices.cache().list();
        let zone = Zone {
            domain: &self.domain,
            services: &services,
            slices: &slices,
        };
        let lookup = zone.lookup(&query.name().to_ascii(), query_type(query.query_type()));
        let mut reply = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
        reply.metadata.authoritative = true;
        reply.metadata.recursion_desired = request.metadata.recursion_desired;
        reply.metadata.recursion_available = true;
        reply.add_query(query.clone());
        match lookup {
            Lookup::NotOurs => return None,
            Lookup::NxDomain => {
                reply.metadata.response_code = ResponseCode::NXDomain;
                reply.authorities.extend(self.soa());
            }
            Lookup::Records(answers) => {
                if answers.is_empty() {
                    reply.authorities.extend(self.soa());
                }
                reply
                    .answers
                    .extend(answers.iter().filter_map(|a| record(&a.name, &a.data)));
            }
        }
        Some(reply)
    }

    /// The reply bytes to the question `bytes`: the zone's answer, or the upstream's.
    async fn reply(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let request = match Message::from_vec(bytes) {
            Ok(m) => m,
            Err(_) => return None,
        };
        if let Some(answer) = self.answer(&request) {
            return answer.to_vec().ok();
        }
        for upstream in &self.upstream {
            if let Ok(Some(r)) =
                tokio::time::timeout(UPSTREAM_TIMEOUT, forward(bytes, *upstream)).await
            {
                return Some(r);
            }
        }
        let mut fail = Message::error_msg(
            request.metadata.id,
            request.metadata.op_code,
            ResponseCode::ServFail,
        );
        fail.queries = request.queries.clone();
        fail.to_vec().ok()
    }

    /// Serves `udp` and `tcp` (one address, both transports) until `shutdown`.
    pub async fn serve(self: Arc<Self>, udp: UdpSocket, tcp: TcpListener, shutdown: Shutdown) {
        self.services.start(shutdown.clone());
        self.slices.start(shutdown.clone());
        let udp = Arc::new(udp);
        let me = self.clone();
        let udp_loop = async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    continue;
                };
                let (me, udp, q) = (me.clone(), udp.clone(), buf[..n].to_vec());
                tokio::spawn(async move {
                    if let Some(r) = me.reply(&q).await {
                        let _ = udp.send_to(&r, from).await;
                    }
                });
            }
        };
        let me = self.clone();
        let tcp_loop = async move {
            loop {
                let Ok((stream, _)) = tcp.accept().await else {
                    continue;
                };
                tokio::spawn(me.clone().serve_tcp(stream));
            }
        };
        tokio::select! {
            _ = udp_loop => {}
            _ = tcp_loop => {}
            _ = shutdown.wait() => {}
        }
    }

    async fn serve_tcp(self: Arc<Self>, mut stream: TcpStream) {
        loop {
            let Ok(Ok(len)) =
                tokio::time::timeout(Duration::from_secs(10), stream.read_u16()).await
            else {
                return;
            };
            let mut q = vec![0u8; usize::from(len)];
            if stream.read_exact(&mut q).await.is_err() {
                return;
            }
            let Some(r) = self.reply(&q).await else {
                return;
            };
            let Ok(n) = u16::try_from(r.len()) else {
                return;
            };
            if stream.write_u16(n).await.is_err() || stream.write_all(&r).await.is_err() {
                return;
            }
        }
    }
}

/// Sends `q` to `upstream` over UDP; its reply.
async fn forward(q: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let bind: SocketAddr = if upstream.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(bind).await.ok()?;
    socket.send_to(q, upstream).await.ok()?;
    let mut buf = vec![0u8; 65_535];
    let n = socket.recv(&mut buf).await.ok()?;
    buf.truncate(n);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers_without_our_own() {
        let conf = "search example.com\nnameserver 10.96.0.10\nnameserver 192.0.2.53\n# nameserver 1.1.1.1\n";
        let own = ["10.96.0.10".parse().unwrap()];
        assert_eq!(
            nameservers(conf, &own),
            vec!["192.0.2.53:53".parse().unwrap()]
        );
    }
}
