//! Step 6, "Scale the service": web asks for 5 replicas
//! (`Spec/Mode/Replicated/Replicas`) and 5 of its tasks run (waiting up to
//! 45 s for them, as the shell check did). Manager's daemon, docker-get.
#![no_std]

extern crate alloc;

use alloc::collections::BTreeMap;
use playground_grader::prelude::*;
use swarm_lab::*;

fn check() -> Result<Verdict> {
    let node1 = manager();
    let missing = "There is no service named web. Go back to the step 'Run a service'.";
    let web = match web(&node1)? {
        Web::Found(web) => web,
        Web::Missing => return Ok(fail(missing)),
        Web::NotManager => return Ok(fail(NOT_MANAGER)),
    };
    // A global service has no number of replicas: as good as none named web.
    let Some(want) = at(&web, "Spec/Mode/Replicated/Replicas").as_u64() else {
        return Ok(fail(missing));
    };
    if want != 5 {
        return Ok(fail(format!(
            "web asks for {want} replicas. Scale it to five: docker service scale web=5"
        )));
    }
    let tasks = tasks_when_running(&node1, &web, 5, 45)?;
    let running = running(&tasks);
    if running.len() < 5 {
        return Ok(fail(format!(
            "Only {} of 5 replicas run so far. Look at: docker service ps web",
            running.len()
        )));
    }
    let names = hostnames(&node1)?;
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &running {
        *per_node.entry(node_of(&names, task)).or_default() += 1;
    }
    let spread: Vec<String> = per_node
        .iter()
        .map(|(node, count)| format!("{count} on {node}"))
        .collect();
    Ok(pass(format!("web runs 5 replicas: {}", spread.join(", "))))
}

playground_grader::grader!(check);
