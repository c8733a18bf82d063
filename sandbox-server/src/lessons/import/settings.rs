//! `playground.toml`: what an operator sets for the imported lessons of one
//! lessons directory and the directories under it. Published labs are
//! loaded as they are, so what this server should do differently from the
//! platform they were written for goes in a small file next to them rather
//! than into their text.
//!
//! ```toml
//! [import]
//! node_image = "my-registry/docker-dind:27"
//! ```
//!
//! A file in a sub-directory overrides the keys it sets for that
//! sub-directory. Native lessons name their images themselves and ignore it.

use std::path::Path;

use serde::Deserialize;

use crate::lessons::diag::{line_of_offset, Diagnostics};

/// The name of the settings file in a lessons directory.
pub const FILE_NAME: &str = "playground.toml";

/// The image imported lessons get by default: Debian with Docker inside,
/// because play-with-docker instances and Killercoda's machines are Docker hosts.
pub const DEFAULT_NODE_IMAGE: &str = "dind";

/// Settings that apply to the imported lessons of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSettings {
    /// The image of every node of an imported lesson whose platform gave
    /// its learners a Docker host (all play-with-docker posts; Killercoda
    /// scenarios on `ubuntu` and the other backends). `base`, `dind` or a
    /// full image reference, as in `lesson.toml`.
    pub node_image: String,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            node_image: DEFAULT_NODE_IMAGE.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsToml {
    #[serde(default)]
    import: ImportToml,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ImportToml {
    #[serde(default)]
    node_image: Option<toml::Spanned<String>>,
}

impl ImportSettings {
    /// The settings of `dir`: `inherited` (its parent's) with the keys of
    /// `dir/playground.toml` on top. `None` (reported) when that file is
    /// there but broken: the lessons under it would run on the wrong image.
    pub fn for_dir(&self, dir: &Path, diags: &mut Diagnostics) -> Option<ImportSettings> {
        let file = dir.join(FILE_NAME);
        if !file.is_file() {
            return Some(self.clone());
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                diags.error(&file, 0, format!("cannot read: {e}"));
                return None;
            }
        };
        let parsed: SettingsToml = match toml::from_str(&text) {
            Ok(p) => p,
            Err(e) => {
                let line = e.span().map_or(0, |s| line_of_offset(&text, s.start));
                diags.error(&file, line, e.message().trim().to_owned());
                return None;
            }
        };
        let mut settings = self.clone();
        if let Some(image) = parsed.import.node_image {
            let line = line_of_offset(&text, image.span().start);
            let image = image.into_inner();
            if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
                diags.error(
                    &file,
                    line,
                    format!("node_image {image:?}: expected an image name such as \"dind\" or \"docker:dind\""),
                );
                return None;
            }
            settings.node_image = image;
        }
        Some(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory holding `playground.toml` with `text` (none when `None`).
    fn dir_with(name: &str, text: Option<&str>) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pg-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(text) = text {
            std::fs::write(dir.join(FILE_NAME), text).unwrap();
        }
        dir
    }

    #[test]
    fn a_directory_without_the_file_inherits() {
        let dir = dir_with("none", None);
        let mut diags = Diagnostics::default();
        let parent = ImportSettings {
            node_image: "x:1".into(),
        };
        assert_eq!(parent.for_dir(&dir, &mut diags), Some(parent.clone()));
        assert!(diags.items.is_empty());
    }

    #[test]
    fn the_file_overrides_and_bad_keys_are_errors_with_their_line() {
        let dir = dir_with(
            "good",
            Some("# for the labs below\n[import]\nnode_image = \"docker:dind\"\n"),
        );
        let mut diags = Diagnostics::default();
        let s = ImportSettings::default().for_dir(&dir, &mut diags);
        assert_eq!(s.unwrap().node_image, "docker:dind");

        let dir = dir_with("unknown", Some("[import]\nimage = \"docker:dind\"\n"));
        assert_eq!(ImportSettings::default().for_dir(&dir, &mut diags), None);
        assert_eq!(diags.items[0].line, 2);
        assert!(
            diags.items[0].message.contains("unknown field"),
            "{:?}",
            diags.items
        );

        let dir = dir_with("empty", Some("[import]\nnode_image = \"\"\n"));
        let mut diags = Diagnostics::default();
        assert_eq!(ImportSettings::default().for_dir(&dir, &mut diags), None);
        assert_eq!(diags.items[0].line, 2);
    }
}
