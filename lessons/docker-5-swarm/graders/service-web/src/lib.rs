//! Step 4, "Run a service": the manager has a service `web` with endpoint
//! mode dnsrr on appnet (`/services/web`, `/networks/appnet`), at least
//! three of its tasks run (`/tasks`), on at least two nodes (`/nodes`).
//! Every node pulls nginx first, so the grader waits up to 75 s for the
//! replicas, as the shell check did.
#![no_std]

use playground_grader::prelude::*;
use swarm_lab::*;

fn check() -> Result<Verdict> {
    let node1 = manager();
    let web = match web(&node1)? {
        Web::Found(web) => web,
        Web::Missing => return Ok(fail("There is no service named web yet. Run on node1:\n  docker service create --name web --replicas 3 --network appnet --endpoint-mode dnsrr nginx")),
        Web::NotManager => return Ok(fail(NOT_MANAGER)),
    };
    let mode = at(&web, "Spec/EndpointSpec/Mode").as_str().unwrap_or("vip");
    if mode != "dnsrr" {
        return Ok(fail(format!("web uses the endpoint mode '{mode}'. The VIP does not work in this playground:\nremove it (docker service rm web) and create it again with --endpoint-mode dnsrr.")));
    }
    let appnet_id = node1
        .network("appnet")?
        .and_then(|n| at(&n, "Id").as_str().map(String::from));
    let on_appnet = appnet_id.is_some_and(|id| {
        at(&web, "Spec/TaskTemplate/Networks")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| at(n, "Target").as_str())
            .any(|target| target == id || target == "appnet")
    });
    if !on_appnet {
        return Ok(fail("web is not on the network appnet. Remove it (docker service rm web) and create it again with --network appnet."));
    }
    let tasks = tasks_when_running(&node1, &web, 3, 75)?;
    let running = running(&tasks);
    if running.len() < 3 {
        return Ok(fail(format!(
            "Only {} of 3 replicas run so far. Look at: docker service ps web",
            running.len()
        )));
    }
    let names = hostnames(&node1)?;
    let mut on: Vec<&str> = running.iter().map(|t| node_of(&names, t)).collect();
    on.sort_unstable();
    on.dedup();
    let on_text = on.join(" ");
    if on.len() < 2 {
        return Ok(fail(format!("All replicas run on {on_text}. They should spread over the nodes: are node2 and node3 Ready (docker node ls)?")));
    }
    Ok(pass(format!(
        "web runs {} replicas on: {on_text}",
        running.len()
    )))
}

playground_grader::grader!(check);
