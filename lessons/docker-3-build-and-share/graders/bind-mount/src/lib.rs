//! Step 4, "Edit the site live": a running container `dev` with /root/site
//! bind-mounted on /usr/share/nginx/html (its `Mounts`, from node1's Docker
//! daemon), publishing port 8081, where node1's current
//! /root/site/index.html is served (http-get, read-file), and which serves
//! another page than port 8080 (web, with the page baked into the image).
#![no_std]

use build_and_share::*;
use playground_grader::prelude::*;

const HTML_DIR: &str = "/usr/share/nginx/html";

fn check() -> Result<Verdict> {
    let node1 = node1();
    let Some(dev) = running_container(&node1, "dev")? else {
        return Ok(fail("There is no running container named dev yet."));
    };
    let mounts: Vec<(&str, &str)> = at(&dev, "Mounts")
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                at(m, "Source").as_str().unwrap_or(""),
                at(m, "Destination").as_str().unwrap_or(""),
            )
        })
        .collect();
    let site_mounted = mounts.iter().any(|(source, destination)| {
        *destination == HTML_DIR
            && (source.ends_with("/root/site") || source.ends_with("/root/site/"))
    });
    if !site_mounted {
        let list: Vec<String> = mounts.iter().map(|(s, d)| format!("{s} -> {d};")).collect();
        let list = if list.is_empty() {
            "none".to_string()
        } else {
            list.join("")
        };
        return Ok(fail(format!(
            "dev does not have /root/site mounted on /usr/share/nginx/html (its mounts: {list})."
        )));
    }
    if !docker::host_ports(&dev).contains(&8081) {
        return Ok(fail(
            "dev does not publish port 8081 of node1. Did you publish it with -p 8081:80?",
        ));
    }
    let dev_page = match page(&node1, 8081) {
        Ok(page) => page,
        Err(why) => {
            return Ok(fail(format!(
                "Nothing answers on port 8081 ({why}). Did you publish it with -p 8081:80?"
            )))
        }
    };
    if !same_page(&dev_page, &site_index(&node1)?) {
        return Ok(fail("Port 8081 does not serve /root/site/index.html."));
    }
    let web_page = page(&node1, 8080).unwrap_or_default();
    if same_page(&dev_page, &web_page) {
        return Ok(fail(
            "dev serves the same page as web: change /root/site/index.html, then look again.",
        ));
    }
    Ok(pass(format!(
        "dev serves your edited page straight from /root/site:\n{}",
        lines_with(&dev_page, "<h1>")
    )))
}

playground_grader::grader!(check);
