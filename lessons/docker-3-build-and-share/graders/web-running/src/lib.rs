//! Step 3, "Run it and open it": a running container `web` of an image
//! mysite..., publishing port 8080 of node1, where a page with a heading
//! answers. Container facts from node1's Docker daemon (docker-get); the
//! page fetched by the server from node1's port 8080 (http-get).
#![no_std]

use build_and_share::*;
use playground_grader::prelude::*;

fn check() -> Result<Verdict> {
    let node1 = node1();
    let Some(web) = running_container(&node1, "web")? else {
        return Ok(fail("There is no running container named web yet."));
    };
    let image = at(&web, "Config/Image").as_str().unwrap_or("");
    if !image.starts_with("mysite") {
        return Ok(fail(format!(
            "The container web runs the image {image}, not your mysite:1.0."
        )));
    }
    if !docker::host_ports(&web).contains(&8080) {
        return Ok(fail(
            "web does not publish port 8080 of node1. Did you publish it with -p 8080:80?",
        ));
    }
    let page = match page(&node1, 8080) {
        Ok(page) => page,
        Err(why) => {
            return Ok(fail(format!(
                "Nothing answers on port 8080 of node1 ({why}). Did you publish it with -p 8080:80?"
            )))
        }
    };
    if !contains_ignore_case(&page, "<h1>") {
        return Ok(fail("Port 8080 answers, but not with your page."));
    }
    Ok(pass("The container web serves your site on port 8080."))
}

playground_grader::grader!(check);
