//! What the graders of this lesson share: the manager (node1), the service
//! `web` and its tasks, as node1's Docker daemon, the swarm manager, knows
//! them (docker-get: `/services`, `/tasks`, `/nodes`). Nothing runs in a node.
#![no_std]

extern crate alloc;

use alloc::collections::BTreeMap;
use playground_grader::prelude::*;

/// node1, the swarm's manager.
pub fn manager() -> Node {
    node("node1")
}

/// The service `web` (its inspect data), or `None`. On a node that is no
/// manager the daemon refuses (an error).
pub fn web(manager: &Node) -> Result<Option<Value>> {
    manager.docker_json("/services/web")
}

/// Every task of a service (current and past: `docker service ps` lists both).
pub fn tasks_of(manager: &Node, service: &Value) -> Result<Vec<Value>> {
    let id = at(service, "ID").as_str().unwrap_or("");
    Ok(manager
        .tasks()?
        .into_iter()
        .filter(|t| at(t, "ServiceID").as_str() == Some(id))
        .collect())
}

/// Tasks meant to run that run (`docker service ps --filter
/// desired-state=running`, CURRENT STATE `Running ...`).
pub fn running(tasks: &[Value]) -> Vec<&Value> {
    tasks
        .iter()
        .filter(|t| {
            at(t, "DesiredState").as_str() == Some("running")
                && at(t, "Status/State").as_str() == Some("running")
        })
        .collect()
}

/// The service's tasks, waiting up to `seconds` (on the daemon's clock)
/// until at least `want` of them run. The caller judges the result.
pub fn tasks_when_running(
    manager: &Node,
    service: &Value,
    want: usize,
    seconds: u32,
) -> Result<Vec<Value>> {
    manager.wait_for(
        seconds,
        || tasks_of(manager, service),
        |tasks| running(tasks).len() >= want,
    )
}

/// The swarm's nodes by ID: their host names (`node1`, ...).
pub fn hostnames(manager: &Node) -> Result<BTreeMap<String, String>> {
    Ok(manager
        .swarm_nodes()?
        .iter()
        .map(|n| {
            (
                at(n, "ID").as_str().unwrap_or("").to_string(),
                at(n, "Description/Hostname")
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            )
        })
        .collect())
}

/// The host name of the node a task is on.
pub fn node_of<'a>(names: &'a BTreeMap<String, String>, task: &Value) -> &'a str {
    at(task, "NodeID")
        .as_str()
        .and_then(|id| names.get(id))
        .map(String::as_str)
        .unwrap_or("?")
}
