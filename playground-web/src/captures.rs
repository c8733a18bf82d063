//! Filling a Run block's `{{NAME}}` placeholders with the values the server
//! captured from the nodes' output (`protocol::dialect`; `GET
//! /sessions/{id}/captures`). The server is the one that sees every byte a
//! node prints, so it keeps the values; the app only asks for them when a
//! block needs one, fills them in and types the result.

use protocol::api::{CaptureInfo, CapturedValue};
use protocol::dialect::{placeholders, substitute};

/// Whether `code` uses a value the lesson captures.
pub fn needs_values(code: &str, declared: &[CaptureInfo]) -> bool {
    placeholders(code).any(|(_, name)| declared.iter().any(|c| c.name == name))
}

/// `code` with its placeholders filled in from `values`; a message for the
/// learner when one has no value yet. Names the lesson does not capture stay
/// as they are (they are no placeholders of ours).
pub fn fill_in(code: &str, values: &[CapturedValue]) -> Result<String, String> {
    let mut missing: Vec<&CapturedValue> = Vec::new();
    for (_, name) in placeholders(code) {
        if let Some(v) = values.iter().find(|v| v.name == name && v.value.is_none()) {
            if !missing.iter().any(|m| m.name == v.name) {
                missing.push(v);
            }
        }
    }
    if let Some(first) = missing.first() {
        return Err(format!(
            "{{{{{}}}}} has no value yet: it comes from what {} prints. Run the block on {} that prints it first.",
            first.name, first.node, first.node
        ));
    }
    Ok(substitute(code, |name| {
        values
            .iter()
            .find(|v| v.name == name)
            .and_then(|v| v.value.as_deref())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(name: &str, value: Option<&str>) -> CapturedValue {
        CapturedValue {
            name: name.into(),
            node: "node1".into(),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn only_declared_placeholders_need_values() {
        let declared = [CaptureInfo {
            name: "JOIN".into(),
            node: "node1".into(),
        }];
        assert!(needs_values("{{JOIN}}", &declared));
        assert!(!needs_values(
            "docker inspect -f '{{.Name}}' {{OTHER}}",
            &declared
        ));
    }

    #[test]
    fn values_are_filled_in_or_the_learner_is_told_what_to_run() {
        let values = [
            value("JOIN", Some("docker swarm join --token T 10.0.0.2:2377")),
            value("IP", None),
        ];
        assert_eq!(
            fill_in("{{JOIN}} && echo '{{.ID}}'", &values).unwrap(),
            "docker swarm join --token T 10.0.0.2:2377 && echo '{{.ID}}'"
        );
        assert_eq!(
            fill_in("ping {{IP}}", &values).unwrap_err(),
            "{{IP}} has no value yet: it comes from what node1 prints. Run the block on node1 that prints it first."
        );
    }
}
