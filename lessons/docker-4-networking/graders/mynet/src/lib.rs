//! Step 3, "A network of your own": node1's Docker daemon has a network
//! `mynet` with the `bridge` driver (docker-get).
#![no_std]

use playground_grader::prelude::*;

fn check() -> Result<Verdict> {
    let Some(mynet) = node("node1").network("mynet")? else {
        return Ok(fail(
            "There is no network named mynet yet. Create it with: docker network create mynet",
        ));
    };
    let driver = at(&mynet, "Driver").as_str().unwrap_or("");
    if driver != "bridge" {
        return Ok(fail(format!(
            "mynet uses the driver '{driver}'. Remove it (docker network rm mynet) and create it again without -d."
        )));
    }
    let subnets: Vec<&str> = at(&mynet, "IPAM/Config")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| at(c, "Subnet").as_str())
        .collect();
    Ok(pass(format!(
        "mynet is a bridge network with subnet {}.",
        subnets.concat()
    )))
}

playground_grader::grader!(check);
