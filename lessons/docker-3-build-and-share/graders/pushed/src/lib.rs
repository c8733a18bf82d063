//! Step 6, "Push it to a registry": a running container `registry`
//! publishing port 5000 (node1's Docker daemon), and the registry there
//! lists the tag 2.0 of mysite (`GET /v2/mysite/tags/list`, made by the
//! server to node1's port 5000).
#![no_std]

use build_and_share::*;
use playground_grader::prelude::*;

fn check() -> Result<Verdict> {
    let node1 = node1();
    let Some(registry) = running_container(&node1, "registry")? else {
        return Ok(fail("There is no running container named registry yet."));
    };
    let no_repository = "The registry on localhost:5000 has no repository mysite yet: tag your image as localhost:5000/mysite:2.0 and push it.";
    if !docker::host_ports(&registry).contains(&5000) {
        return Ok(fail(format!(
            "The container registry does not publish port 5000 of node1: start it with -p 5000:5000. {no_repository}"
        )));
    }
    let tags = match node1.http_get(5000, "/v2/mysite/tags/list") {
        Ok(r) if (200..300).contains(&r.status) => String::from_utf8_lossy(&r.body).into_owned(),
        _ => return Ok(fail(no_repository)),
    };
    let has_tag = match playground_grader::serde_json::from_str::<Value>(&tags) {
        Ok(list) => at(&list, "tags")
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("2.0"))),
        Err(_) => tags.contains("\"2.0\""),
    };
    let tags = tags.trim();
    if !has_tag {
        return Ok(fail(format!(
            "The registry has mysite, but not the tag 2.0 (it has: {tags})."
        )));
    }
    Ok(pass(format!(
        "The registry on localhost:5000 has your image: {tags}"
    )))
}

playground_grader::grader!(check);
