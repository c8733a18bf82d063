//! Step 2, "Build the image": node1's Docker has an image mysite:1.0 whose
//! /usr/share/nginx/html/index.html is /root/site/index.html. The image is
//! asked of node1's Docker daemon (docker-get), and the page inside it is
//! read from the image's layers in that daemon's storage (read-file), where
//! the shell check ran `docker run --rm mysite:1.0 cat ...`.
#![no_std]

use build_and_share::*;
use playground_grader::prelude::*;

fn check() -> Result<Verdict> {
    let node1 = node1();
    let Some(image) = node1.image("mysite:1.0")? else {
        return Ok(fail(
            "There is no image mysite:1.0 yet. Did you build with -t mysite:1.0?",
        ));
    };
    let Some(inside) = image_index(&node1, &image)? else {
        return Ok(fail("mysite:1.0 has no /usr/share/nginx/html/index.html: check the COPY line of your Dockerfile."));
    };
    if !same_page(&inside, &site_index(&node1)?) {
        return Ok(fail(
            "The index.html in mysite:1.0 differs from /root/site/index.html: build it again.",
        ));
    }
    Ok(pass(
        "mysite:1.0 is built, with your index.html in /usr/share/nginx/html.",
    ))
}

playground_grader::grader!(check);
