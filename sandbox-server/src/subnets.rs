//! Subnets for session networks: plain IPv4 arithmetic, shared by the
//! configuration (which parses `session_subnet_pool`) and the runtime (which
//! hands the blocks out).
//!
//! Left to itself, Docker gives each new bridge network a /16 or /20 from its
//! default pools, which run out after about 30 networks ("could not find an
//! available, non-overlapping IPv4 address pool"): a playground with more live
//! sessions than that would fail. So the server hands out small blocks (/27: up
//! to 29 addresses, room for every node, the gateway and the registry mirror)
//! from one pool of its own, `session_subnet_pool` (default `10.210.0.0/16`,
//! 2048 sessions), skipping blocks that overlap any existing Docker network.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

/// Prefix length of one session's block.
pub const BLOCK_PREFIX: u8 = 27;

/// An IPv4 network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// First and last address, as integers.
    fn range(self) -> (u32, u32) {
        let start = u32::from(self.addr) & self.mask();
        (start, start | !self.mask())
    }

    pub fn overlaps(self, other: Ipv4Net) -> bool {
        let (a0, a1) = self.range();
        let (b0, b1) = other.range();
        a0 <= b1 && b0 <= a1
    }

    /// The first host address, which Docker makes the bridge's gateway.
    pub fn gateway(self) -> Ipv4Addr {
        Ipv4Addr::from(self.range().0 + 1)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected an IPv4 network like 10.210.0.0/16"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{s:?}: {addr:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to 32"))?;
        let net = Ipv4Net { addr, prefix };
        if u32::from(addr) != net.range().0 {
            return Err(format!(
                "{s:?}: host bits are set (did you mean {}/{prefix}?)",
                Ipv4Addr::from(net.range().0)
            ));
        }
        Ok(net)
    }
}

/// The pool session networks take their blocks from.
#[derive(Debug)]
pub struct SubnetPool {
    pool: Ipv4Net,
    /// Where the next search starts, so concurrent creations try different
    /// blocks and a block just freed is not reused at once.
    cursor: AtomicU32,
}

impl SubnetPool {
    /// A pool of /27 blocks; it must be a /27 or larger.
    pub fn new(pool: Ipv4Net) -> Result<SubnetPool, String> {
        if pool.prefix > BLOCK_PREFIX {
            return Err(format!(
                "{pool}: too small for a session network (at most /{BLOCK_PREFIX})"
            ));
        }
        Ok(SubnetPool {
            pool,
            cursor: AtomicU32::new(0),
        })
    }

    /// How many session blocks the pool holds.
    pub fn blocks(&self) -> u32 {
        1 << (BLOCK_PREFIX - self.pool.prefix)
    }

    /// Blocks that overlap none of `taken`, in the order to try them.
    pub fn free_blocks(&self, taken: &[Ipv4Net]) -> Vec<Ipv4Net> {
        let n = self.blocks();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % n;
        let base = self.pool.range().0;
        (0..n)
            .map(|i| Ipv4Net {
                addr: Ipv4Addr::from(base + ((start + i) % n) * (1 << (32 - BLOCK_PREFIX))),
                prefix: BLOCK_PREFIX,
            })
            .filter(|b| !taken.iter().any(|t| t.overlaps(*b)))
            .collect()
    }

    pub fn pool(&self) -> Ipv4Net {
        self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_explains_bad_networks() {
        assert_eq!(net("10.210.0.0/16").to_string(), "10.210.0.0/16");
        assert!("10.210.0.1/16"
            .parse::<Ipv4Net>()
            .unwrap_err()
            .contains("10.210.0.0/16"));
        assert!("10.210.0.0".parse::<Ipv4Net>().is_err());
        assert!("10.210.0.0/33".parse::<Ipv4Net>().is_err());
        assert!("fd00::/8".parse::<Ipv4Net>().is_err());
        assert!(SubnetPool::new(net("10.0.0.0/28")).is_err());
    }

    #[test]
    fn overlap() {
        assert!(net("10.0.0.0/8").overlaps(net("10.210.3.32/27")));
        assert!(!net("10.210.3.0/27").overlaps(net("10.210.3.32/27")));
        assert_eq!(
            net("10.210.3.32/27").gateway(),
            Ipv4Addr::new(10, 210, 3, 33)
        );
    }

    #[test]
    fn free_blocks_skip_taken_ones_and_rotate() {
        let pool = SubnetPool::new(net("10.210.0.0/25")).unwrap();
        assert_eq!(pool.blocks(), 4);
        let taken = [net("10.210.0.32/27"), net("172.17.0.0/16")];
        let first = pool.free_blocks(&taken);
        assert_eq!(
            first,
            vec![
                net("10.210.0.0/27"),
                net("10.210.0.64/27"),
                net("10.210.0.96/27")
            ]
        );
        // The next search starts one block further.
        assert_eq!(pool.free_blocks(&taken)[0], net("10.210.0.64/27"));
        assert!(pool.free_blocks(&[net("10.0.0.0/8")]).is_empty());
    }
}
