//! Step 3, "An overlay network": the manager's daemon has a network
//! `appnet` with the `overlay` driver that is attachable (docker-get).
#![no_std]

use playground_grader::prelude::*;
use swarm_lab::manager;

fn check() -> Result<Verdict> {
    let Some(appnet) = manager().network("appnet")? else {
        return Ok(fail("There is no network named appnet yet. Run: docker network create -d overlay --attachable appnet"));
    };
    let driver = at(&appnet, "Driver").as_str().unwrap_or("");
    if driver != "overlay" {
        return Ok(fail(format!("appnet uses the driver '{driver}', not overlay. Remove it (docker network rm appnet) and create it with -d overlay --attachable.")));
    }
    if at(&appnet, "Attachable").as_bool() != Some(true) {
        return Ok(fail("appnet is not attachable. Remove it (docker network rm appnet) and create it again with --attachable."));
    }
    let subnets: Vec<&str> = at(&appnet, "IPAM/Config")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| at(c, "Subnet").as_str())
        .collect();
    Ok(pass(format!(
        "appnet is an attachable overlay network with subnet {}.",
        subnets.concat()
    )))
}

playground_grader::grader!(check);
