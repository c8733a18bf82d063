//! Step 1, "Write a Dockerfile": /root/site/Dockerfile starts with
//! `FROM nginx` (a tag or digest allowed) and COPYs index.html into
//! /usr/share/nginx/html. The file is read by the engine (read-file); no
//! program of node1 runs, so a forged `grep` or `test` changes nothing.
#![no_std]

use playground_grader::prelude::*;

const DOCKERFILE: &str = "/root/site/Dockerfile";

fn check() -> Result<Verdict> {
    let Some(text) = node("node1").read_text(DOCKERFILE)? else {
        return Ok(fail("There is no /root/site/Dockerfile yet."));
    };
    // The first line that is neither blank nor a comment.
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if !from_nginx(first) {
        return Ok(fail(format!(
            "The Dockerfile should start with: FROM nginx (it starts with: {first})"
        )));
    }
    if !text.lines().any(copies_index) {
        return Ok(fail(
            "The Dockerfile does not COPY index.html into /usr/share/nginx/html yet.",
        ));
    }
    Ok(pass(
        "Your Dockerfile starts from nginx and copies the site into it.",
    ))
}

/// `FROM nginx`, `FROM nginx:TAG` or `FROM nginx@DIGEST`, any case, and nothing else.
fn from_nginx(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [from, image] = words[..] else {
        return false;
    };
    let image = image.to_ascii_lowercase();
    from.eq_ignore_ascii_case("FROM")
        && (image == "nginx" || image.starts_with("nginx:") || image.starts_with("nginx@"))
}

/// A `COPY` line naming index.html and, after it, /usr/share/nginx/html.
fn copies_index(line: &str) -> bool {
    let line = line.trim_start().to_ascii_lowercase();
    let Some(rest) = line.strip_prefix("copy") else {
        return false;
    };
    if !rest.starts_with(|c: char| c.is_whitespace()) {
        return false;
    }
    match rest.find("index.html") {
        Some(i) => rest[i + "index.html".len()..].contains("/usr/share/nginx/html"),
        None => false,
    }
}

playground_grader::grader!(check);
