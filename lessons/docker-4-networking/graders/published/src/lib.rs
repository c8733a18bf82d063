//! Step 2, "Publish a port": nginx's welcome page answers on node1:8080 for
//! the other machines of the session. The shell check ran curl on node2; here
//! the server itself asks node1's address on the session network (the one
//! node2 reaches as `node1`) for port 8080 (http-get), and node1's Docker
//! daemon must have a running container publishing that port (docker-get), so
//! the answer comes through Docker, as the step teaches.
#![no_std]

use playground_grader::prelude::*;

const RUN_WEB: &str = "On node1, run: docker run -d --name web -p 8080:80 nginx";

fn check() -> Result<Verdict> {
    let node1_has_address = nodes()
        .iter()
        .any(|n| n.name == "node1" && n.address.is_some());
    if !node1_has_address {
        return Ok(fail("node2 cannot resolve node1."));
    }
    let node1 = node("node1");
    let published = node1
        .docker_json("/containers/json")?
        .and_then(|list| list.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .any(|c| docker::host_ports(c).contains(&8080));
    if !published {
        return Ok(fail(format!(
            "Nothing answers on node1:8080 yet (no container of node1 publishes port 8080).\n{RUN_WEB}"
        )));
    }
    match node1.http_get(8080, "/") {
        Ok(r) if (200..300).contains(&r.status) => {
            if contains_ignore_case(&String::from_utf8_lossy(&r.body), "welcome to nginx") {
                Ok(pass("node2 reaches nginx through node1:8080."))
            } else {
                Ok(fail(
                    "Something answers on node1:8080, but it is not nginx's welcome page.",
                ))
            }
        }
        Ok(r) => Ok(fail(format!(
            "Nothing answers on node1:8080 yet (it answers HTTP {}).\n{RUN_WEB}",
            r.status
        ))),
        Err(e) => Ok(fail(format!(
            "Nothing answers on node1:8080 yet ({e}).\n{RUN_WEB}"
        ))),
    }
}

playground_grader::grader!(check);
