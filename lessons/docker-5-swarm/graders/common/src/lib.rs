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

/// What the manager says of the service `web`.
pub enum Web {
    /// Its inspect data.
    Found(Value),
    /// There is no such service.
    Missing,
    /// node1 is no swarm manager (not in a swarm, or a worker): it knows no services.
    NotManager,
}

/// What a step says when node1 knows no services because it is no manager.
pub const NOT_MANAGER: &str =
    "There is no service named web: node1 is not a swarm manager. Go back to the first step.";

/// The service `web`, as the manager knows it.
pub fn web(manager: &Node) -> Result<Web> {
    let answer = manager.docker_get("/services/web")?;
    match answer.status {
        200..=299 => match playground_grader::serde_json::from_slice(&answer.body) {
            Ok(service) => Ok(Web::Found(service)),
            Err(e) => Err(Error::Failed(format!("/services/web is not JSON: {e}"))),
        },
        404 => Ok(Web::Missing),
        // "This node is not a swarm manager. ..."
        503 => Ok(Web::NotManager),
        status => Err(Error::Failed(format!(
            "the Docker daemon in node1 answered {status} to /services/web: {}",
            String::from_utf8_lossy(&answer.body).trim()
        ))),
    }
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
