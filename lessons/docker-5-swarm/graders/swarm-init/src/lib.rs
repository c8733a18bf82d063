//! Step 1, "Start a swarm": node1's Docker daemon is in a swarm
//! (`/info`: `Swarm/LocalNodeState` active) as a manager
//! (`Swarm/ControlAvailable`).
#![no_std]

use playground_grader::prelude::*;
use swarm_lab::manager;

fn check() -> Result<Verdict> {
    let info = manager().info()?;
    let state = at(&info, "Swarm/LocalNodeState").as_str().unwrap_or("");
    if state != "active" {
        let state = if state.is_empty() { "unknown" } else { state };
        return Ok(fail(format!("node1 is not in a swarm yet (state: {state}). Run: docker swarm init --advertise-addr eth0")));
    }
    if at(&info, "Swarm/ControlAvailable").as_bool() != Some(true) {
        return Ok(fail("node1 is in a swarm, but not as a manager. Leave it (docker swarm leave --force) and run docker swarm init again."));
    }
    let address = at(&info, "Swarm/NodeAddr").as_str().unwrap_or("");
    Ok(pass(format!(
        "node1 manages a swarm. Its address for the other nodes: {address}"
    )))
}

playground_grader::grader!(check);
