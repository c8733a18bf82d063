//! Step 5, "Find the replicas by name": node2's daemon runs a container
//! `client` attached to the swarm's overlay network appnet (its endpoint's
//! `NetworkID` is the manager's appnet), and at least three tasks of `web`
//! run with an address on appnet: those are the addresses Swarm's DNS gives
//! client for `tasks.web` (docker-get on node2 and on the manager).
//!
//! The shell check also ran `nslookup tasks.web` and `wget http://web/`
//! inside client. Those need a program in client's network namespace (the
//! overlay's addresses are reachable only from inside the swarm's nodes); this
//! grader does not run one (no exec): it decides from the facts above.
#![no_std]

use playground_grader::prelude::*;
use swarm_lab::*;

/// Running tasks of web with an address on appnet.
fn on_appnet(tasks: &[Value]) -> usize {
    running(tasks)
        .iter()
        .filter(|t| {
            at(t, "NetworksAttachments")
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| {
                    at(a, "Network/Spec/Name").as_str() == Some("appnet")
                        && at(a, "Addresses").as_array().is_some_and(|l| !l.is_empty())
                })
        })
        .count()
}

fn check() -> Result<Verdict> {
    let node2 = node("node2");
    let Some(client) = node2.container("client")?.filter(docker::running) else {
        return Ok(fail("There is no running container named client on node2. Run on node2:\n  docker run -d --name client --network appnet alpine sleep 3600"));
    };
    let rerun = "client is not on appnet. Remove it (docker rm -f client) and start it again with --network appnet.";
    if docker::address_on(&client, "appnet").is_none() {
        return Ok(fail(rerun));
    }
    let node1 = manager();
    let appnet_id = node1
        .network("appnet")?
        .and_then(|n| at(&n, "Id").as_str().map(String::from));
    let client_net = at(&client, "NetworkSettings/Networks/appnet/NetworkID").as_str();
    if appnet_id.is_none() || client_net != appnet_id.as_deref() {
        return Ok(fail(format!(
            "{rerun} (Its appnet is not the swarm's overlay network appnet of node1.)"
        )));
    }
    let n = match web(&node1)? {
        Web::Found(web) => on_appnet(&node1.wait_for(
            5,
            || tasks_of(&node1, &web),
            |tasks| on_appnet(tasks) >= 3,
        )?),
        Web::Missing | Web::NotManager => 0,
    };
    if n < 3 {
        return Ok(fail(format!("client resolves only {n} replica address(es) for tasks.web. Is the service web running (docker service ps web on node1)?")));
    }
    Ok(pass(format!(
        "client on node2 is on appnet with the {n} replicas of web: tasks.web resolves to each of them."
    )))
}

playground_grader::grader!(check);
