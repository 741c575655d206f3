//! The ranges Services draw from: the ClusterIP range (`--service-cluster-ip-range`, default
//! `10.96.0.0/12`) and the NodePort range (`--service-node-port-range`, default `30000-32767`).
//!
//! Both follow Kubernetes' allocators: a range's network and broadcast addresses are never handed out;
//! the first addresses form a *static band* of `min(max(16, size / 16), 256)` entries that random
//! picks use only once the rest (the dynamic band) is full, so hand-picked addresses such as the DNS
//! server's (the 10th) rarely collide with allocated ones. The same rule splits the NodePort range.
//! The `kubernetes` Service takes the first address. IPv4 only: Skiff's pod networks are IPv4.
//!
//! ```
//! use skiff_core::service_network::{NodePortRange, ServiceIpRange};
//!
//! let range: ServiceIpRange = "10.96.0.0/12".parse().unwrap();
//! assert_eq!(range.first().to_string(), "10.96.0.1");
//! assert_eq!(range.dns().to_string(), "10.96.0.10");
//! assert!(range.contains("10.111.255.254".parse().unwrap()));
//! assert!(!range.contains("10.112.0.1".parse().unwrap()));
//! assert_eq!(range.static_band(), 256);
//! let ports: NodePortRange = "30000-32767".parse().unwrap();
//! assert!(ports.contains(30080) && !ports.contains(80));
//! ```

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The static band's size for a range of `size` entries.
fn static_band(size: u64) -> u64 {
    (size / 16).clamp(16, 256).min(size)
}

/// An IPv4 CIDR Services get their ClusterIPs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceIpRange {
    network: u32,
    prefix: u8,
}

impl ServiceIpRange {
    /// Addresses in the range, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Addresses that may be allocated (all but the network and broadcast addresses).
    pub fn usable(&self) -> u64 {
        self.size().saturating_sub(2)
    }

    /// The `n`th usable address (1-based: `nth(1)` is the first after the network address).
    pub fn nth(&self, n: u64) -> Option<Ipv4Addr> {
        (n >= 1 && n <= self.usable()).then(|| Ipv4Addr::from(self.network + n as u32))
    }

    /// The first usable address: the `kubernetes` Service's.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// The 10th address: cluster DNS's by convention.
    pub fn dns(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 10)
    }

    /// Whether `ip` may be allocated from the range.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let offset = u64::from(u32::from(ip).wrapping_sub(self.network));
        u32::from(ip) >= self.network && offset >= 1 && offset <= self.usable()
    }

    /// How many addresses at the start of the range form the static band.
    pub fn static_band(&self) -> u64 {
        static_band(self.usable())
    }

    /// The candidate for a random pick from `seed`: in the dynamic band, or the whole range when the
    /// dynamic band is `full`.
    pub fn candidate(&self, seed: u64, dynamic_full: bool) -> Ipv4Addr {
        let band = self.static_band();
        let (start, len) = if dynamic_full || self.usable() <= band {
            (1, self.usable().max(1))
        } else {
            (band + 1, self.usable() - band)
        };
        Ipv4Addr::from(self.network + (start + seed % len) as u32)
    }
}

impl FromStr for ServiceIpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, bits) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR (e.g. 10.96.0.0/12)"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{s:?} is not an IPv4 CIDR (e.g. 10.96.0.0/12)"))?;
        let prefix: u8 = bits
            .parse()
            .ok()
            .filter(|b| (8..=30).contains(b))
            .ok_or_else(|| format!("{s:?}: the prefix length must be between 8 and 30"))?;
        let mask = u32::MAX << (32 - u32::from(prefix));
        if u32::from(ip) & !mask != 0 {
            return Err(format!(
                "{s:?} has host bits set (the network is {}/{prefix})",
                Ipv4Addr::from(u32::from(ip) & mask)
            ));
        }
        Ok(Self {
            network: u32::from(ip),
            prefix,
        })
    }
}

impl fmt::Display for ServiceIpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

impl Default for ServiceIpRange {
    /// `10.96.0.0/12`.
    fn default() -> Self {
        Self {
            network: u32::from(Ipv4Addr::new(10, 96, 0, 0)),
            prefix: 12,
        }
    }
}

/// The ports NodePorts are allocated from (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodePortRange {
    first: u16,
    last: u16,
}

impl NodePortRange {
    /// Whether `port` is in the range.
    pub fn contains(&self, port: i32) -> bool {
        (i32::from(self.first)..=i32::from(self.last)).contains(&port)
    }

    /// How many ports the range holds.
    pub fn size(&self) -> u32 {
        u32::from(self.last - self.first) + 1
    }

    /// The candidate for a random pick from `seed` (see [`ServiceIpRange::candidate`]).
    pub fn candidate(&self, seed: u64, dynamic_full: bool) -> i32 {
        let band = static_band(u64::from(self.size()));
        let (start, len) = if dynamic_full || u64::from(self.size()) <= band {
            (0, u64::from(self.size()))
        } else {
            (band, u64::from(self.size()) - band)
        };
        i32::from(self.first) + (start + seed % len) as i32
    }

    /// Every port, dynamic band first (for an exhaustive search once random picks keep colliding).
    pub fn all(&self) -> impl Iterator<Item = i32> {
        let band = static_band(u64::from(self.size())) as i32;
        let (first, last) = (i32::from(self.first), i32::from(self.last));
        (first + band..=last).chain(first..(first + band).min(last + 1))
    }
}

impl FromStr for NodePortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a port range (e.g. 30000-32767)");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let first: u16 = a.trim().parse().map_err(|_| bad())?;
        let last: u16 = b.trim().parse().map_err(|_| bad())?;
        if first == 0 || last < first {
            return Err(bad());
        }
        Ok(Self { first, last })
    }
}

impl fmt::Display for NodePortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl Default for NodePortRange {
    /// `30000-32767`.
    fn default() -> Self {
        Self {
            first: 30000,
            last: 32767,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_picks_come_from_the_dynamic_band_first() {
        let r: ServiceIpRange = "10.0.0.0/24".parse().unwrap();
        assert_eq!(r.usable(), 254);
        assert_eq!(r.static_band(), 16);
        for seed in 0..1000 {
            let ip = r.candidate(seed, false);
            assert!(
                u32::from(ip) > u32::from(Ipv4Addr::new(10, 0, 0, 16)),
                "{ip}"
            );
            assert!(r.contains(ip));
            assert!(r.contains(r.candidate(seed, true)));
        }
        assert!(!r.contains("10.0.0.0".parse().unwrap()));
        assert!(!r.contains("10.0.0.255".parse().unwrap()));
        let ports = NodePortRange::default();
        assert_eq!(ports.size(), 2768);
        assert!((0..1000).all(|s| ports.candidate(s, false) >= 30000 + 173));
        assert_eq!(ports.all().count(), 2768);
        assert!(ports.all().all(|p| ports.contains(p)));
    }

    #[test]
    fn bad_ranges_say_why() {
        assert!("10.96.0.1/12"
            .parse::<ServiceIpRange>()
            .unwrap_err()
            .contains("host bits"));
        assert!("10.96.0.0".parse::<ServiceIpRange>().is_err());
        assert!("fd00::/108".parse::<ServiceIpRange>().is_err());
        assert!("10.0.0.0/31".parse::<ServiceIpRange>().is_err());
        assert!("32767-30000".parse::<NodePortRange>().is_err());
        assert_eq!("1-2".parse::<NodePortRange>().unwrap().size(), 2);
    }
}
