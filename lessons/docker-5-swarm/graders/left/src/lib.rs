//! Step 8, "Take the cluster apart": node1's daemon has left the swarm
//! (`/info`: `Swarm/LocalNodeState` not active), no container of web runs
//! on it (`/containers/json`), and it was in a swarm: the bridge
//! `docker_gwbridge`, which joining a swarm creates and leaving it keeps, is
//! there. (The shell check passed on a fresh node, which was never in one.)
#![no_std]

use playground_grader::prelude::*;
use swarm_lab::*;

/// A name `docker ps --filter name=web.` matches: `web` and one more character.
fn of_web(name: &str) -> bool {
    name.match_indices("web").any(|(i, _)| name.len() > i + 3)
}

fn check() -> Result<Verdict> {
    let node1 = manager();
    let state = at(&node1.info()?, "Swarm/LocalNodeState")
        .as_str()
        .unwrap_or("")
        .to_string();
    if state == "active" {
        // On a node that is no manager, /services answers an error: as
        // `docker service inspect web` failing, web counts as gone.
        let web_exists = matches!(web(&node1), Ok(Web::Found(_)));
        return Ok(fail(if web_exists {
            "The service web still exists. Remove it with: docker service rm web"
        } else {
            "web is gone, but node1 is still in the swarm. Let the workers leave (docker swarm leave), then on node1: docker swarm leave --force"
        }));
    }
    let left = node1
        .docker_json("/containers/json")?
        .and_then(|l| l.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|c| docker::names(c).iter().any(|n| of_web(n)))
        .count();
    if left > 0 {
        return Ok(fail(format!("{left} container(s) of web still run on node1: docker rm -f $(docker ps -q --filter name=web.)")));
    }
    if node1.network("docker_gwbridge")?.is_none() {
        return Ok(fail("node1 has never been in a swarm, so there is nothing to take apart yet. Start with the first step."));
    }
    Ok(pass(format!(
        "node1 has left the swarm (state: {state}), and nothing of web is left."
    )))
}

playground_grader::grader!(check);
