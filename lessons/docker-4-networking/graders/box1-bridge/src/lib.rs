//! Step 1, "The default bridge": a running container `box1` attached to
//! the default `bridge` network, from node1's Docker daemon (docker-get).
#![no_std]

use playground_grader::prelude::*;

fn check() -> Result<Verdict> {
    let box1 = node("node1").container("box1")?;
    let Some(box1) = box1.filter(docker::running) else {
        return Ok(fail("There is no running container named box1 yet. Start it with: docker run -d --name box1 alpine sleep 3600"));
    };
    let Some(address) = docker::address_on(&box1, "bridge") else {
        let networks: Vec<&str> = at(&box1, "NetworkSettings/Networks")
            .as_object()
            .map(|n| n.keys().map(String::as_str).collect())
            .unwrap_or_default();
        return Ok(fail(format!(
            "box1 is on: {}. It should be on the default bridge network (run it without --network).",
            networks.join(" ")
        )));
    };
    Ok(pass(format!(
        "box1 is running on the default bridge with address {address}."
    )))
}

playground_grader::grader!(check);
