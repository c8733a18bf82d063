//! What the graders of this lesson share: the site's page as node1 has it,
//! the page inside an image, and a page served on a port of node1.
#![no_std]

extern crate alloc;

use playground_grader::prelude::*;

/// The site's page on node1, which the learner edits.
pub const SITE_INDEX: &str = "/root/site/index.html";

/// Where the image keeps the page nginx serves.
pub const NGINX_INDEX: &str = "/usr/share/nginx/html/index.html";

/// node1, the lesson's only node.
pub fn node1() -> Node {
    node("node1")
}

/// `/root/site/index.html` as text; empty when it is missing (as
/// `$(cat /root/site/index.html)` is).
pub fn site_index(node1: &Node) -> Result<String> {
    Ok(node1.read_text(SITE_INDEX)?.unwrap_or_default())
}

/// The `index.html` inside an image (its inspect data), read from the
/// image's layers in node1's Docker storage: no container runs.
pub fn image_index(node1: &Node, image: &Value) -> Result<Option<String>> {
    Ok(node1
        .image_file(image, NGINX_INDEX)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// What `curl -fsS localhost:PORT/` on node1 prints: the body of a 2xx
/// answer, or why there was none. The server makes the request to node1's
/// address, where Docker publishes the port; no program of node1 runs.
pub fn page(node1: &Node, port: u16) -> core::result::Result<String, String> {
    match node1.http_get(port, "/") {
        Ok(r) if (200..300).contains(&r.status) => {
            Ok(String::from_utf8_lossy(&r.body).into_owned())
        }
        Ok(r) => Err(format!("it answers HTTP {}", r.status)),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether two pages are the same text, as the shell compares `$(...)`
/// outputs (trailing newlines do not count).
pub fn same_page(a: &str, b: &str) -> bool {
    trim_newlines(a) == trim_newlines(b)
}

/// A container of node1's Docker by name, when it runs.
pub fn running_container(node1: &Node, name: &str) -> Result<Option<Value>> {
    Ok(node1.container(name)?.filter(docker::running))
}
