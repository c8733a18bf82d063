//! Step 5, "Rebuild with the layer cache": mysite:2.0 differs from
//! mysite:1.0 only in its last layer (`RootFS/Layers`: the cached layers
//! were reused), holds the current /root/site/index.html (read from its
//! layers), and runs as `web` on port 8080 serving that page. Images and
//! containers from node1's Docker daemon; files through read-file; the page
//! through http-get. The shell check ran `docker run --rm mysite:2.0 cat`.
#![no_std]

use build_and_share::*;
use playground_grader::prelude::*;

fn layers(image: &Value) -> Vec<&str> {
    at(image, "RootFS/Layers")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Every layer but the last (the layers a rebuild can reuse).
fn below_last<'a>(layers: &'a [&'a str]) -> &'a [&'a str] {
    &layers[..layers.len().saturating_sub(1)]
}

fn check() -> Result<Verdict> {
    let node1 = node1();
    let Some(new_image) = node1.image("mysite:2.0")? else {
        return Ok(fail("There is no image mysite:2.0 yet."));
    };
    let Some(old_image) = node1.image("mysite:1.0")? else {
        return Ok(fail("mysite:1.0 is gone: this step compares 2.0 with it."));
    };
    let (old, new) = (layers(&old_image), layers(&new_image));
    if old == new {
        return Ok(fail("mysite:2.0 is the same image as mysite:1.0: edit ~/site/index.html, then build 2.0 again."));
    }
    if below_last(&old) != below_last(&new) {
        return Ok(fail("mysite:2.0 did not reuse the layers of mysite:1.0 below the last step. Did the Dockerfile change?"));
    }
    let reused = new.len().saturating_sub(1);
    let inside = image_index(&node1, &new_image)?.unwrap_or_default();
    if !same_page(&inside, &site_index(&node1)?) {
        return Ok(fail("The index.html in mysite:2.0 is not your current /root/site/index.html: build it again."));
    }
    let web = node1.container("web")?;
    let web_runs_2 = web.as_ref().is_some_and(|web| {
        docker::running(web) && at(web, "Config/Image").as_str() == Some("mysite:2.0")
    });
    if !web_runs_2 {
        return Ok(fail("mysite:2.0 is built and reused the cached layers. Now run it as the container web on port 8080."));
    }
    let serves = web
        .as_ref()
        .is_some_and(|web| docker::host_ports(web).contains(&8080))
        && page(&node1, 8080).is_ok_and(|page| same_page(&page, &inside));
    if !serves {
        return Ok(fail(
            "Port 8080 does not serve the page of mysite:2.0. Did you publish it with -p 8080:80?",
        ));
    }
    Ok(pass(format!(
        "mysite:2.0 reused {reused} layer(s) of mysite:1.0, added a new COPY layer, and web serves it on port 8080."
    )))
}

playground_grader::grader!(check);
