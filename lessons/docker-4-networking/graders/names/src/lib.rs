//! Step 4, "Containers find each other by name": `api` runs on mynet, and
//! `box1` is connected to mynet too. The shell check then ran
//! `docker exec box1 ping api`, a program in the node; here the same is
//! decided from node1's Docker daemon (docker-get): both containers run,
//! both are endpoints of mynet (`/networks/mynet`, `Containers`), a
//! user-defined network, whose DNS resolves container names, and mynet does
//! not forbid traffic between its containers (`enable_icc`).
#![no_std]

use playground_grader::prelude::*;

fn check() -> Result<Verdict> {
    let node1 = node("node1");
    let Some(api) = node1.container("api")?.filter(docker::running) else {
        return Ok(fail("There is no running container named api. Start it with: docker run -d --name api --network mynet nginx"));
    };
    let Some(api_address) = docker::address_on(&api, "mynet") else {
        return Ok(fail("api is not on mynet. Remove it (docker rm -f api) and start it again with --network mynet."));
    };
    let box1 = node1.container("box1")?;
    let Some(box1) = box1.filter(|b| docker::address_on(b, "mynet").is_some()) else {
        return Ok(fail(
            "box1 is not connected to mynet yet. Run: docker network connect mynet box1",
        ));
    };
    let cannot_ping = "box1 is on mynet but cannot ping api by name.";
    if !docker::running(&box1) {
        return Ok(fail(format!("{cannot_ping} (box1 is not running.)")));
    }
    let Some(mynet) = node1.network("mynet")? else {
        return Ok(fail(cannot_ping));
    };
    let endpoints = at(&mynet, "Containers");
    let attached = |c: &Value| {
        at(c, "Id")
            .as_str()
            .is_some_and(|id| endpoints.get(id).is_some())
    };
    let icc_off = at(&mynet, "Options")
        .get("com.docker.network.bridge.enable_icc")
        .and_then(Value::as_str)
        == Some("false");
    if !attached(&api) || !attached(&box1) || icc_off {
        return Ok(fail(cannot_ping));
    }
    Ok(pass(format!("box1 reaches api by name: {api_address}")))
}

playground_grader::grader!(check);
