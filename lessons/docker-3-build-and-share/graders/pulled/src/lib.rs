//! Step 7, "Pull it back": `web` runs localhost:5000/mysite:2.0 (its
//! `Config/Image`), mysite:2.0 is no longer among node1's images (so the
//! image came back by a pull), and port 8080 serves a page with a heading.
//! Facts from node1's Docker daemon (docker-get); the page by http-get.
#![no_std]

use build_and_share::*;
use playground_grader::prelude::*;

const PULLED: &str = "localhost:5000/mysite:2.0";

fn check() -> Result<Verdict> {
    let node1 = node1();
    let Some(web) = running_container(&node1, "web")? else {
        return Ok(fail("There is no running container named web."));
    };
    let image = at(&web, "Config/Image").as_str().unwrap_or("");
    if image != PULLED {
        return Ok(fail(format!(
            "web runs {image}: start it from localhost:5000/mysite:2.0, the image you pulled."
        )));
    }
    if node1.image("mysite:2.0")?.is_some() {
        return Ok(fail(
            "mysite:2.0 is still on node1, so this proves little: remove it and pull it back.",
        ));
    }
    let published = docker::host_ports(&web).contains(&8080);
    let page = match page(&node1, 8080) {
        Ok(page) if published => page,
        _ => {
            return Ok(fail(
                "Nothing answers on port 8080. Did you publish it with -p 8080:80?",
            ))
        }
    };
    if !contains_ignore_case(&page, "<h1>") {
        return Ok(fail("Port 8080 answers, but not with your page."));
    }
    Ok(pass(format!(
        "web runs the image you pulled from your registry:\n{}",
        lines_with(&page, "<h1>")
    )))
}

playground_grader::grader!(check);
