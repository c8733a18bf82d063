//! Which address a request comes from, for per-client limits.
//!
//! Behind reverse proxies the TCP peer is the proxy, and `X-Forwarded-For`
//! lists the addresses each hop saw, the client's first. Only the entries on
//! the right were added by proxies we run; everything to their left was
//! written by whoever sent the request and may be made up. So the client is
//! the rightmost entry not added by a trusted proxy. IPv6 clients are grouped
//! by /64: one subscriber usually holds a whole /64, so a per-/128 limit
//! would be no limit at all.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network, as `10.0.0.0/8` or `::1/128` (a bare address is
/// the one-address network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// A malformed network in `trusted_proxies`.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an address or a network like 10.0.0.0/8 or fd00::/8")]
pub struct BadNet(String);

impl FromStr for IpNet {
    type Err = BadNet;

    fn from_str(s: &str) -> Result<IpNet, BadNet> {
        let bad = || BadNet(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` lies in this network (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => leading_equal(
                u128::from(net.to_bits()) << 96,
                u128::from(ip.to_bits()) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                leading_equal(net.to_bits(), ip.to_bits(), self.prefix)
            }
            _ => false,
        }
    }
}

fn leading_equal(a: u128, b: u128, bits: u8) -> bool {
    bits == 0 || (a ^ b) >> (128 - u32::from(bits)) == 0
}

/// `::ffff:1.2.3.4` is 1.2.3.4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client of a request from `peer` with `forwarded_for` (the
/// `X-Forwarded-For` value). Without a trusted proxy as the peer the header
/// is ignored; otherwise entries are read from the right, skipping trusted
/// proxies, and the first other one is the client. An entry that is not an
/// address ends the walk at the last hop known good.
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        return client;
    }
    for entry in forwarded_for.unwrap_or("").rsplit(',').map(str::trim) {
        let Ok(hop) = entry.parse::<IpAddr>() else {
            break;
        };
        client = canonical(hop);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// The key per-client limits count under: the address, or for IPv6 its /64.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn of(ip: IpAddr) -> ClientKey {
        ClientKey(match canonical(ip) {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let net = Ipv6Addr::from_bits(v6.to_bits() & !(u128::MAX >> 64));
                format!("{net}/64")
            }
        })
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_contain() {
        let lo: IpNet = "127.0.0.0/8".parse().unwrap();
        assert!(lo.contains(ip("127.1.2.3")));
        assert!(lo.contains(ip("::ffff:127.0.0.1")), "IPv4-mapped counts");
        assert!(!lo.contains(ip("128.0.0.1")));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let one: IpNet = "::1".parse().unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        assert!("0.0.0.0/0"
            .parse::<IpNet>()
            .unwrap()
            .contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "::/129", "nonsense", "10.0.0.0/x", ""] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_written_first_entry_is_not_believed() {
        let trusted = nets(&["127.0.0.0/8", "10.0.0.0/8"]);
        // The client wrote 1.2.3.4; the proxy at 10.0.0.1 appended what it saw.
        let xff = Some("1.2.3.4, 203.0.113.7, 10.0.0.1");
        assert_eq!(
            client_address(ip("127.0.0.1"), xff, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = nets(&["127.0.0.0/8"]);
        assert_eq!(
            client_address(ip("198.51.100.2"), Some("1.2.3.4"), &trusted),
            ip("198.51.100.2")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), None, &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), Some(""), &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_good_hop() {
        let trusted = nets(&["127.0.0.0/8", "10.0.0.0/8"]);
        let xff = Some("1.2.3.4, not-an-ip, 10.0.0.1");
        assert_eq!(
            client_address(ip("127.0.0.1"), xff, &trusted),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        let a = ClientKey::of(ip("2001:db8:1:2:aaaa::1"));
        let b = ClientKey::of(ip("2001:db8:1:2:bbbb::9"));
        let other = ClientKey::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(ClientKey::of(ip("::ffff:1.2.3.4")).to_string(), "1.2.3.4");
    }
}
