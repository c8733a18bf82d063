//! Step 2, "Join the workers": node1 manages the swarm, and its node list
//! (`/nodes`) has node2 and node3 Ready, as workers (no `ManagerStatus`).
//! Each worker's own daemon confirms it (`/info`: in a swarm, and its
//! `Swarm/NodeID` is that Ready node's ID). A node that has just joined may
//! take a moment to be Ready: when both workers say they joined, the grader
//! waits up to 20 s for the manager to list them Ready, as the shell check
//! did; a worker that never joined fails at once.
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
    // Each worker's own daemon says whether it joined a swarm, and as which
    // swarm node. Only a worker that joined is worth waiting for.
    let own_ids: Vec<(&str, Option<String>)> = WORKERS
        .iter()
        .map(|w| {
            let info = node(w).info().ok();
            let joined = info.as_ref().is_some_and(|i| {
                matches!(
                    at(i, "Swarm/LocalNodeState").as_str(),
                    Some("active" | "pending")
                )
            });
            let id = info
                .as_ref()
                .and_then(|i| at(i, "Swarm/NodeID").as_str())
                .filter(|id| joined && !id.is_empty())
                .map(String::from);
            (*w, id)
        })
        .collect();
    let listed = |nodes: &Vec<Value>, worker: &str, id: &Option<String>| {
        nodes
            .iter()
            .any(|n| hostname(n) == worker && ready(n) && at(n, "ID").as_str() == id.as_deref())
    };
    let all_joined = own_ids.iter().all(|(_, id)| id.is_some());
    // A node that has just joined may take a moment to be Ready.
    let wait = if all_joined { 20 } else { 0 };
    let nodes = node1.wait_for(
        wait,
        || node1.swarm_nodes(),
        |nodes| own_ids.iter().all(|(w, id)| listed(nodes, w, id)),
    )?;
    let mut ready_names: Vec<&str> = nodes.iter().filter(|n| ready(n)).map(hostname).collect();
    ready_names.sort_unstable();
    let ready_names = if ready_names.is_empty() {
        "none".to_string()
    } else {
        ready_names.join(" ")
    };
    for (worker, id) in &own_ids {
        let entry = nodes
            .iter()
            .find(|n| hostname(n) == *worker && ready(n) && at(n, "ID").as_str() == id.as_deref());
        let Some(entry) = entry.filter(|_| id.is_some()) else {
            return Ok(fail(format!(
                "{worker} has not joined the swarm yet (Ready nodes: {ready_names}).\nRun 'docker swarm join-token worker' on node1 and paste the 'docker swarm join ...' line it prints into {worker}'s terminal."
            )));
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
