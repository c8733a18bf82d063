//! Step 7, "Swarm heals the service": a task of web failed (desired state
//! shutdown, state failed: the container removed by force) and 5 tasks run
//! again (waiting up to 30 s: Swarm restarts a task after a 5 s delay).
//! Manager's daemon, docker-get.
#![no_std]

use playground_grader::prelude::*;
use swarm_lab::*;

fn check() -> Result<Verdict> {
    let node1 = manager();
    let web = match web(&node1)? {
        Web::Found(web) => web,
        Web::Missing => {
            return Ok(fail(
                "There is no service named web. Go back to the step 'Run a service'.",
            ))
        }
        Web::NotManager => return Ok(fail(NOT_MANAGER)),
    };
    let failed = tasks_of(&node1, &web)?
        .iter()
        .filter(|t| {
            at(t, "DesiredState").as_str() == Some("shutdown")
                && at(t, "Status/State").as_str() == Some("failed")
        })
        .count();
    if failed < 1 {
        return Ok(fail("No replica of web has failed yet. On node3, remove one of its containers:\n  docker rm -f $(docker ps -q --filter name=web. | head -n 1)"));
    }
    let tasks = tasks_when_running(&node1, &web, 5, 30)?;
    let running = running(&tasks).len();
    if running < 5 {
        return Ok(fail(format!("A replica failed, but only {running} of 5 run again so far. Look at: docker service ps web")));
    }
    Ok(pass(format!(
        "Swarm replaced the failed replica: {running} of 5 run again."
    )))
}

playground_grader::grader!(check);
