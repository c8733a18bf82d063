//! Step 5, "Inspect and clean up": node1's Docker daemon has no network
//! mynet and no container box1, web or api any more (docker-get), and it
//! did run them: the nginx image that web and api ran is there. (The shell
//! check passed on a fresh node, where there is nothing to clean up.)
#![no_std]

use playground_grader::prelude::*;

fn check() -> Result<Verdict> {
    let node1 = node("node1");
    if node1.network("mynet")?.is_some() {
        return Ok(fail(
            "The network mynet still exists. Remove its containers, then: docker network rm mynet",
        ));
    }
    let left: Vec<String> = node1
        .containers()?
        .iter()
        .flat_map(docker::names)
        .filter(|n| matches!(n.as_str(), "box1" | "web" | "api"))
        .collect();
    if !left.is_empty() {
        let left = left.join(" ");
        return Ok(fail(format!(
            "These containers are still there: {left}. Remove them with: docker rm -f {left}"
        )));
    }
    if node1.image("nginx")?.is_none() {
        return Ok(fail("There is nothing to clean up yet: node1 has not run this lesson's containers (box1, web and api, on mynet). Do the earlier steps first."));
    }
    Ok(pass("All clean: box1, web, api and mynet are gone."))
}

playground_grader::grader!(check);
