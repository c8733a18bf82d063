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
//! 2048 sessions), skipping blocks that overlap any existing Docker network,
//! and never handing one block to two creations at once ([`SubnetPool`]).

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

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
///
/// Creations run concurrently, and Docker only says which subnets are taken
/// at the moment it is asked. So a creation leases its block ([`SubnetPool::lease`]):
/// no other creation of this server picks a block in flight, and the cursor
/// moves past each block handed out, so a network created after another
/// creation listed the host's networks is not picked again from that stale
/// list. Another server sharing the pool can still take a block between a
/// listing and a creation; Docker then refuses the network and
/// [`SubnetPool::allocate`] lists again and retries elsewhere.
#[derive(Debug)]
pub struct SubnetPool {
    pool: Ipv4Net,
    state: Mutex<PoolState>,
}

#[derive(Debug)]
struct PoolState {
    /// Index of the block the next search starts at. It starts at a random
    /// block, so servers sharing the pool (and a restarted server, whose old
    /// sessions hold blocks) do not all begin with the same ones, and a block
    /// just freed is not reused before the cursor comes round again.
    cursor: u32,
    /// Indexes of blocks whose network this process is creating.
    in_flight: HashSet<u32>,
}

/// A block held for one network creation; handed back when dropped, whether
/// the creation worked (the network then holds it, and Docker lists it) or not.
#[derive(Debug)]
pub struct Lease<'a> {
    pool: &'a SubnetPool,
    index: u32,
}

impl Lease<'_> {
    pub fn block(&self) -> Ipv4Net {
        self.pool.block(self.index)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.pool.state().in_flight.remove(&self.index);
    }
}

/// How many times one creation finds its block taken by someone else (another
/// server sharing the pool) before it gives up.
pub const MAX_CONFLICTS: usize = 16;

/// What one attempt to create a network on a block gave.
#[derive(Debug)]
pub enum Attempt<E> {
    /// The block overlaps a network that appeared since the listing.
    Conflict,
    /// Any other failure: not retried.
    Failed(E),
}

/// Why [`SubnetPool::allocate`] found no block.
#[derive(Debug, PartialEq, Eq)]
pub enum AllocError<E> {
    /// Every block is in use (or being created).
    Full,
    /// [`MAX_CONFLICTS`] blocks in a row were taken by someone else first.
    Contended,
    /// Listing or creating failed otherwise.
    Failed(E),
}

impl SubnetPool {
    /// A pool of /27 blocks; it must be a /27 or larger.
    pub fn new(pool: Ipv4Net) -> Result<SubnetPool, String> {
        if pool.prefix > BLOCK_PREFIX {
            return Err(format!(
                "{pool}: too small for a session network (at most /{BLOCK_PREFIX})"
            ));
        }
        let blocks = 1 << (BLOCK_PREFIX - pool.prefix);
        Ok(SubnetPool {
            pool,
            state: Mutex::new(PoolState {
                cursor: rand::random_range(0..blocks),
                in_flight: HashSet::new(),
            }),
        })
    }

    /// How many session blocks the pool holds.
    pub fn blocks(&self) -> u32 {
        1 << (BLOCK_PREFIX - self.pool.prefix)
    }

    pub fn pool(&self) -> Ipv4Net {
        self.pool
    }

    fn block(&self, index: u32) -> Ipv4Net {
        Ipv4Net {
            addr: Ipv4Addr::from(self.pool.range().0 + index * (1 << (32 - BLOCK_PREFIX))),
            prefix: BLOCK_PREFIX,
        }
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leases the first block from the cursor on that overlaps none of `taken`
    /// (the host's networks, as just listed) and is not being created by
    /// another lease holder, and moves the cursor past it; None when there is none.
    pub fn lease(&self, taken: &[Ipv4Net]) -> Option<Lease<'_>> {
        let n = self.blocks();
        let mut state = self.state();
        let index = (0..n)
            .map(|i| (state.cursor + i) % n)
            .filter(|index| !state.in_flight.contains(index))
            .find(|index| {
                let block = self.block(*index);
                !taken.iter().any(|t| t.overlaps(block))
            })?;
        state.in_flight.insert(index);
        state.cursor = (index + 1) % n;
        Some(Lease { pool: self, index })
    }

    /// Someone else is taking blocks where the cursor is: search elsewhere.
    fn jump(&self) {
        let n = self.blocks();
        self.state().cursor = rand::random_range(0..n);
    }

    /// Creates a network on a free block: `list` gives the subnets of the
    /// host's networks, `create` makes the network on the block it is given.
    /// A block someone else took since the listing ([`Attempt::Conflict`]) is
    /// skipped: the search lists again and goes on from another place, at
    /// most [`MAX_CONFLICTS`] times.
    pub async fn allocate<E, L, LF, C, CF>(
        &self,
        mut list: L,
        mut create: C,
    ) -> Result<Ipv4Net, AllocError<E>>
    where
        L: FnMut() -> LF,
        LF: Future<Output = Result<Vec<Ipv4Net>, E>>,
        C: FnMut(Ipv4Net) -> CF,
        CF: Future<Output = Result<(), Attempt<E>>>,
    {
        for _ in 0..MAX_CONFLICTS {
            let taken = list().await.map_err(AllocError::Failed)?;
            let lease = self.lease(&taken).ok_or(AllocError::Full)?;
            match create(lease.block()).await {
                Ok(()) => return Ok(lease.block()),
                Err(Attempt::Conflict) => self.jump(),
                Err(Attempt::Failed(e)) => return Err(AllocError::Failed(e)),
            }
        }
        Err(AllocError::Contended)
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

    /// A pool whose search starts at block 0.
    fn pool_at_zero(s: &str) -> SubnetPool {
        let pool = SubnetPool::new(net(s)).unwrap();
        pool.state().cursor = 0;
        pool
    }

    #[test]
    fn leases_skip_taken_and_leased_blocks_and_the_cursor_moves_past_each() {
        let pool = pool_at_zero("10.210.0.0/25");
        assert_eq!(pool.blocks(), 4);
        let taken = [net("10.210.0.32/27"), net("172.17.0.0/16")];
        let a = pool.lease(&taken).unwrap();
        assert_eq!(a.block(), net("10.210.0.0/27"));
        // While a is being created nobody else gets it, even from a list
        // made before it existed; the search goes on after it.
        let b = pool.lease(&taken).unwrap();
        assert_eq!(b.block(), net("10.210.0.64/27"));
        let c = pool.lease(&taken).unwrap();
        assert_eq!(c.block(), net("10.210.0.96/27"));
        assert!(pool.lease(&taken).is_none(), "the rest is taken or leased");
        // A lease handed back is free again, once the cursor comes round.
        drop(b);
        assert_eq!(pool.lease(&taken).unwrap().block(), net("10.210.0.64/27"));
        assert!(pool.lease(&[net("10.0.0.0/8")]).is_none());
    }

    #[test]
    fn a_new_pool_starts_its_search_at_a_random_block() {
        let starts: HashSet<u32> = (0..20)
            .map(|_| {
                let pool = SubnetPool::new(net("10.210.0.0/16")).unwrap();
                let block = pool.lease(&[]).unwrap().block();
                u32::from(block.addr)
            })
            .collect();
        assert!(starts.len() > 1, "servers sharing a pool start apart");
    }

    /// A stand-in for Docker's networks: listing and creating take a little
    /// while (so concurrent creations interleave), and a network whose subnet
    /// overlaps one that exists is refused, as Docker does.
    #[derive(Default)]
    struct Engine {
        networks: Mutex<Vec<Ipv4Net>>,
        conflicts: std::sync::atomic::AtomicUsize,
    }

    impl Engine {
        fn holding(blocks: impl IntoIterator<Item = Ipv4Net>) -> Engine {
            let engine = Engine::default();
            engine.networks.lock().unwrap().extend(blocks);
            engine
        }

        async fn list(&self, delay_ms: u64) -> Result<Vec<Ipv4Net>, String> {
            let networks = self.networks.lock().unwrap().clone();
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            Ok(networks)
        }

        async fn create(&self, block: Ipv4Net, delay_ms: u64) -> Result<(), Attempt<String>> {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            let mut networks = self.networks.lock().unwrap();
            if networks.iter().any(|n| n.overlaps(block)) {
                self.conflicts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(Attempt::Conflict);
            }
            networks.push(block);
            Ok(())
        }

        fn count_in(&self, pool: &str) -> usize {
            let mut blocks: Vec<u32> = self
                .networks
                .lock()
                .unwrap()
                .iter()
                .filter(|n| net(pool).overlaps(**n))
                .map(|n| u32::from(n.addr))
                .collect();
            let all = blocks.len();
            blocks.sort();
            blocks.dedup();
            assert_eq!(blocks.len(), all, "no block twice");
            all
        }
    }

    /// `n` allocations from `pool` at once, with listing and creation delays
    /// that vary per creation.
    async fn burst(
        pool: &SubnetPool,
        engine: &Engine,
        n: u64,
    ) -> Vec<Result<Ipv4Net, AllocError<String>>> {
        futures_util::future::join_all((0..n).map(|i| {
            pool.allocate(
                move || engine.list(i % 7),
                move |block| engine.create(block, 1 + i % 5),
            )
        }))
        .await
    }

    /// The burst of issue 12: 16 blocks in use just after the cursor (a
    /// restarted server's own sessions, or another server's), then many
    /// creations at once. Each used to take the blocks after its list in order
    /// and give up after 8 refusals: most of them collided on the same first
    /// free blocks and were refused as full.
    #[tokio::test]
    async fn concurrent_creations_in_one_server_never_pick_the_same_block() {
        let pool = pool_at_zero("10.210.0.0/16");
        let engine = Engine::holding((0..16).map(|i| pool.block(i)));
        let results = burst(&pool, &engine, 80).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(engine.count_in("10.210.0.0/16"), 96);
        assert_eq!(
            engine.conflicts.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "within one server, no creation tries a block another one is creating"
        );
        assert!(pool.state().in_flight.is_empty(), "every lease handed back");
    }

    #[tokio::test]
    async fn two_servers_sharing_a_pool_retry_past_each_others_blocks() {
        for _ in 0..10 {
            let (a, b) = (pool_at_zero("10.210.0.0/16"), pool_at_zero("10.210.0.0/16"));
            let engine = Engine::default();
            let (on_a, on_b) = tokio::join!(burst(&a, &engine, 40), burst(&b, &engine, 40));
            assert!(
                on_a.iter().chain(&on_b).all(Result::is_ok),
                "{on_a:?} {on_b:?}"
            );
            assert_eq!(engine.count_in("10.210.0.0/16"), 80);
        }
    }

    #[tokio::test]
    async fn allocation_is_full_only_when_no_block_is_left_and_gives_up_on_endless_conflicts() {
        let pool = pool_at_zero("10.210.0.0/26");
        let engine = Engine::default();
        let results = burst(&pool, &engine, 3).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
        assert!(results.contains(&Err(AllocError::Full)));

        let pool = pool_at_zero("10.210.0.0/16");
        let mut attempts = 0;
        let result = pool
            .allocate(
                || async { Ok::<_, String>(Vec::new()) },
                |_| {
                    attempts += 1;
                    async { Err(Attempt::Conflict) }
                },
            )
            .await;
        assert_eq!(result, Err(AllocError::Contended));
        assert_eq!(attempts, MAX_CONFLICTS);

        let result = pool
            .allocate(
                || async { Ok::<_, String>(Vec::new()) },
                |_| async { Err(Attempt::Failed("boom".to_owned())) },
            )
            .await;
        assert_eq!(result, Err(AllocError::Failed("boom".to_owned())));
        assert!(pool.state().in_flight.is_empty());
    }
}
