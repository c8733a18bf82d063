//! The start-up check of the host firewall: learner nodes must not reach the host.
//!
//! A node on a session network can otherwise open any port of the host through its
//! gateway or the host's other addresses: this server's API (a node could create
//! sessions), Docker's API, anything listening. `scripts/host-firewall.sh install`
//! (`scripts/setup.sh firewall`) adds the iptables chain [`CHAIN`], jumped to from
//! INPUT, that drops new connections from `session_subnet_pool`. The server cannot
//! see from inside whether that rule exists, so it asks iptables at start and
//! refuses to serve learner nodes without it, unless `require_host_firewall = false`.

use std::process::Command;

use crate::config::Config;
use crate::subnets::Ipv4Net;

/// The iptables chain of the playground's host rules.
pub const CHAIN: &str = "PLAYGROUND-INPUT";

/// What to run to install the rule.
const FIX: &str = "run `scripts/setup.sh firewall` as root (or set require_host_firewall = false \
                   if the host is protected another way)";

/// Why the server will not serve learner nodes.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error(
        "session_subnet_pool is empty, so the host firewall cannot cover session networks: \
         set session_subnet_pool (and {FIX})"
    )]
    NoPool,
    #[error(
        "cannot read the iptables rules ({0}): the server checks them at start as root; {FIX}"
    )]
    Unreadable(String),
    #[error("INPUT does not jump to the chain {CHAIN}: nodes could reach the host; {FIX}")]
    NotJumpedTo,
    #[error(
        "the chain {CHAIN} does not drop traffic from session_subnet_pool {pool}: nodes could \
         reach the host; {FIX}"
    )]
    PoolNotCovered { pool: Ipv4Net },
    #[error(
        "the rule `{0}` lets traffic through before the drop of {CHAIN}: nodes could reach the \
         host; remove it or put it after the jump, or {FIX}"
    )]
    Bypassed(String),
}

/// Checks, once at start, that the host firewall covers the session networks.
/// Passes (with a warning) when `require_host_firewall` is false.
pub fn check(config: &Config) -> Result<(), FirewallError> {
    if !config.require_host_firewall {
        tracing::warn!(
            "require_host_firewall = false: learner nodes may reach this host \
             (the server's port and anything else listening); see docs/security.md"
        );
        return Ok(());
    }
    let pool = config
        .subnet_pool()
        .ok()
        .flatten()
        .ok_or(FirewallError::NoPool)?
        .pool();
    let input = iptables_rules("INPUT")?;
    let chain = iptables_rules(CHAIN)?;
    verify(&input, &chain, pool)?;
    tracing::info!(%pool, "host firewall: {CHAIN} drops traffic from session networks");
    Ok(())
}

/// `iptables -S <chain>`: the rules of one chain, one per line. Reading them
/// needs root: a server that is not root tries `sudo -n` (no password prompt),
/// which works for a sudo user whose credentials are cached or who may run
/// iptables without a password.
fn iptables_rules(chain: &str) -> Result<String, FirewallError> {
    let mut errors = Vec::new();
    for cmd in [
        &["iptables"][..],
        &["/usr/sbin/iptables"],
        &["sudo", "-n", "iptables"],
    ] {
        let out = match Command::new(cmd[0])
            .args(&cmd[1..])
            .args(["-w", "-S", chain])
            .output()
        {
            Ok(out) => out,
            Err(e) => {
                errors.push(format!("{}: {e}", cmd.join(" ")));
                continue;
            }
        };
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if chain == CHAIN && stderr.contains("No chain") {
            // A missing chain drops nothing: the same answer as an empty one.
            return Ok(String::new());
        }
        errors.push(format!("{} -S {chain}: {}", cmd.join(" "), stderr.trim()));
    }
    Err(FirewallError::Unreadable(errors.join("; ")))
}

/// Checks `iptables -S` output: INPUT jumps to [`CHAIN`] unconditionally with no
/// ACCEPT before the jump, and the chain drops traffic from a network that holds
/// all of `pool`, with nothing before that lets traffic through but replies
/// ([`REPLIES`]).
fn verify(input: &str, chain: &str, pool: Ipv4Net) -> Result<(), FirewallError> {
    let jump = format!("-A INPUT -j {CHAIN}");
    let rules = || {
        input
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("-A "))
    };
    let before_jump: Vec<&str> = rules().take_while(|l| *l != jump).collect();
    if before_jump.len() == rules().count() {
        return Err(FirewallError::NotJumpedTo);
    }
    if let Some(rule) = before_jump.iter().find(|l| lets_through(l)) {
        return Err(FirewallError::Bypassed(rule.to_string()));
    }
    for rule in chain
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("-A "))
    {
        // `net` holds `pool` when it is at most as long a prefix and they overlap.
        if dropped_source(rule).is_some_and(|net| net.prefix <= pool.prefix && net.overlaps(pool)) {
            return Ok(());
        }
        if lets_through(rule) && rule != REPLIES {
            return Err(FirewallError::Bypassed(rule.to_owned()));
        }
    }
    Err(FirewallError::PoolNotCovered { pool })
}

/// The one rule allowed before the drop: replies to connections the host opened
/// (the preview proxy's to nodes).
const REPLIES: &str = "-A PLAYGROUND-INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";

/// Whether a rule ends the chain's walk for what it matches without a drop.
fn lets_through(rule: &str) -> bool {
    rule.ends_with("-j ACCEPT") || rule.ends_with("-j RETURN")
}

/// The source network of a rule `-A CHAIN -s NET -j DROP` with no other match.
fn dropped_source(rule: &str) -> Option<Ipv4Net> {
    let words: Vec<&str> = rule.split_whitespace().collect();
    match words.as_slice() {
        ["-A", chain, "-s", net, "-j", "DROP"] if *chain == CHAIN => net.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &str = "-P INPUT ACCEPT\n-A INPUT -j PLAYGROUND-INPUT\n";
    const RULES: &str = "-N PLAYGROUND-INPUT\n\
        -A PLAYGROUND-INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
        -A PLAYGROUND-INPUT -s 10.210.0.0/16 -j DROP\n";

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn the_rules_of_the_setup_script_cover_its_pool_and_smaller_ones() {
        assert!(verify(INPUT, RULES, net("10.210.0.0/16")).is_ok());
        assert!(verify(INPUT, RULES, net("10.210.8.0/24")).is_ok());
    }

    #[test]
    fn a_pool_the_drop_rule_does_not_hold_is_refused() {
        for pool in ["10.211.7.0/26", "10.0.0.0/8", "10.210.0.0/15"] {
            let err = verify(INPUT, RULES, net(pool)).unwrap_err();
            assert!(
                matches!(err, FirewallError::PoolNotCovered { .. }),
                "{pool}"
            );
            assert!(
                err.to_string().contains("scripts/setup.sh firewall"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_chain_that_input_does_not_jump_to_protects_nothing() {
        let err = verify("-P INPUT ACCEPT\n", RULES, net("10.210.0.0/16")).unwrap_err();
        assert!(matches!(err, FirewallError::NotJumpedTo));
        // A conditional jump (only some interfaces) is not the rule either.
        let partial = "-A INPUT -i docker0 -j PLAYGROUND-INPUT\n";
        assert!(verify(partial, RULES, net("10.210.0.0/16")).is_err());
    }

    #[test]
    fn an_accept_before_the_drop_or_the_jump_defeats_it() {
        let early = "-A PLAYGROUND-INPUT -s 10.210.0.0/16 -p tcp -j ACCEPT\n";
        let err = verify(INPUT, &format!("{early}{RULES}"), net("10.210.0.0/16")).unwrap_err();
        assert!(matches!(err, FirewallError::Bypassed(_)), "{err}");
        let input = "-A INPUT -i br-1 -j ACCEPT\n-A INPUT -j PLAYGROUND-INPUT\n";
        let err = verify(input, RULES, net("10.210.0.0/16")).unwrap_err();
        assert!(matches!(err, FirewallError::Bypassed(_)), "{err}");
        // After the drop, or before the jump but not letting traffic through: fine.
        let input = "-A INPUT -i lo -j LOG\n-A INPUT -j PLAYGROUND-INPUT\n-A INPUT -j ACCEPT\n";
        let late = format!("{RULES}-A PLAYGROUND-INPUT -j RETURN\n");
        assert!(verify(input, &late, net("10.210.0.0/16")).is_ok());
    }

    #[test]
    fn only_unconditional_drops_of_the_chain_count() {
        let narrow = "-A PLAYGROUND-INPUT -s 10.210.0.0/16 -p tcp --dport 8080 -j DROP\n\
                      -A PLAYGROUND-INPUT -s 10.210.0.0/16 -j ACCEPT\n\
                      -A OTHER -s 10.210.0.0/16 -j DROP\n";
        assert!(verify(INPUT, narrow, net("10.210.0.0/16")).is_err());
        assert!(verify(INPUT, "", net("10.210.0.0/16")).is_err());
    }

    #[test]
    fn turning_the_check_off_passes_without_iptables() {
        let config = Config {
            require_host_firewall: false,
            session_subnet_pool: String::new(),
            ..Config::default()
        };
        assert!(check(&config).is_ok());
        let config = Config {
            session_subnet_pool: String::new(),
            ..Config::default()
        };
        assert!(matches!(check(&config), Err(FirewallError::NoPool)));
    }
}
