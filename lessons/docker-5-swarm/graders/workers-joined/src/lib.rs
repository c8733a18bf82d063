//! Step 2, "Join the workers": node1 manages the swarm, and its node list
//! (`/nodes`) has node2 and node3 Ready, as workers (no `ManagerStatus`).
//! Each worker's own daemon confirms it (`/info`: `Swarm/NodeID` is that
//! Ready node's ID). A node that has just joined may take a moment to be
//! Ready: the grader waits up to 20 s for it, as the shell check did.
#![no_std]

use playground_grader::prelude::*;
use swarm_lab::manager;

const WORKERS: [&str; 2] = ["node2", "node3"];

fn hostname(n: &Value) -> &str {
    at(n, "Description/Hostname").as_str().unwrap_or("")
}

fn ready(n: &Value) -> bool {
    at(n, "Status/State").as_str() == Some("ready")
}

fn check() -> Result<Verdict> {
    let node1 = manager();
    if at(&node1.info()?, "Swarm/ControlAvailable").as_bool() != Some(true) {
        return Ok(fail(
            "node1 is not a swarm manager. Go back to the first step.",
        ));
    }
    let both_ready = |nodes: &Vec<Value>| {
        WORKERS
            .iter()
            .all(|w| nodes.iter().any(|n| hostname(n) == *w && ready(n)))
    };
    let nodes = node1.wait_for(20, || node1.swarm_nodes(), both_ready)?;
    let mut ready_names: Vec<&str> = nodes.iter().filter(|n| ready(n)).map(hostname).collect();
    ready_names.sort_unstable();
    let ready_names = if ready_names.is_empty() {
        "none".to_string()
    } else {
        ready_names.join(" ")
    };
    for worker in WORKERS {
        let not_joined = format!(
            "{worker} has not joined the swarm yet (Ready nodes: {ready_names}).\nRun 'docker swarm join-token worker' on node1 and paste the 'docker swarm join ...' line it prints into {worker}'s terminal."
        );
        // The worker's own daemon says which swarm node it is.
        let own_id = match node(worker).info() {
            Ok(info) => at(&info, "Swarm/NodeID").as_str().unwrap_or("").to_string(),
            Err(_) => String::new(),
        };
        let entry = nodes.iter().find(|n| {
            hostname(n) == worker && ready(n) && at(n, "ID").as_str() == Some(own_id.as_str())
        });
        let Some(entry) = entry else {
            return Ok(fail(not_joined));
        };
        if !at(entry, "ManagerStatus").is_null() {
            return Ok(fail(format!("{worker} joined as a manager. Use the worker token: on {worker} run 'docker swarm leave --force', then join with the command from 'docker swarm join-token worker'.")));
        }
    }
    Ok(pass(
        "The swarm has three nodes: node1 (manager), node2 and node3 (workers).",
    ))
}

playground_grader::grader!(check);
