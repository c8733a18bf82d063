//! The admin token: what opens the operator routes, workshops and watching a
//! learner's terminal.
//!
//! It lives in a file (`admin_token_file`, by default `<data_dir>/admin-token`)
//! rather than in the configuration, so it never shows up in `sandbox-server
//! config`, in the environment of child processes or in a config file checked
//! into a repository. On first start the server creates the file with a random
//! token, readable by its owner only (0600), and logs the file's path, never the
//! token. Operators rotate it by replacing the file and restarting.
//!
//! Only the token's SHA-256 is kept in memory, and requests are compared with it
//! in constant time.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shortest token accepted from a file an operator wrote.
const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("admin token file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "admin token file {path}: the token must be at least {MIN_TOKEN_LEN} characters \
         (printable ASCII, no spaces); delete the file to have a new one made"
    )]
    Weak { path: PathBuf },
    #[error(
        "admin token file {path} is readable by group or others (mode {mode:o}); \
         run: chmod 600 {path}"
    )]
    Exposed { path: PathBuf, mode: u32 },
}

/// The admin token, as its hash.
#[derive(Clone)]
pub struct AdminToken {
    hash: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// A token whose value is `token` (tests, and the CLI side).
    pub fn from_value(token: &str) -> AdminToken {
        AdminToken {
            hash: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Reads the token at `path`, creating the file with a new random token
    /// when it does not exist. Returns the token and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(AdminToken, bool), AdminTokenError> {
        match read_token(path) {
            Ok(token) => Ok((AdminToken::from_value(&token), false)),
            Err(AdminTokenError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                let token = create(path)?;
                Ok((AdminToken::from_value(&token), true))
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `offered` is the admin token (constant time).
    pub fn matches(&self, offered: &str) -> bool {
        let offered: [u8; 32] = Sha256::digest(offered.as_bytes()).into();
        bool::from(offered.ct_eq(&self.hash))
    }
}

/// The token in the file at `path` (trimmed), checked: long enough, and not
/// readable by anyone but its owner.
pub fn read_token(path: &Path) -> Result<String, AdminTokenError> {
    let io = |source| AdminTokenError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AdminTokenError::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let token = text.trim();
    let printable = token.bytes().all(|b| b.is_ascii_graphic());
    if token.len() < MIN_TOKEN_LEN || !printable {
        return Err(AdminTokenError::Weak {
            path: path.to_owned(),
        });
    }
    Ok(token.to_owned())
}

/// Writes a new random token (32 bytes, hex) to `path`, mode 0600, failing if
/// the file appeared meanwhile (another server on the same data dir).
fn create(path: &Path) -> Result<String, AdminTokenError> {
    let io = |source| AdminTokenError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pg-admin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_new_token_is_made_once_private_and_then_read_back() {
        let dir = temp_dir("new");
        let path = dir.join("sub").join("admin-token");
        let (first, created) = AdminToken::load_or_create(&path).unwrap();
        assert!(created);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(first.matches(text.trim()));
        assert!(!first.matches(""));
        assert!(!first.matches(&text.trim()[1..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (again, created) = AdminToken::load_or_create(&path).unwrap();
        assert!(!created, "the file is kept");
        assert!(again.matches(text.trim()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn weak_or_exposed_tokens_are_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("bad");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("admin-token");
        std::fs::write(&path, "short\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = AdminToken::load_or_create(&path).unwrap_err();
        assert!(matches!(err, AdminTokenError::Weak { .. }), "{err}");
        std::fs::write(&path, "a-long-enough-operator-token\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = AdminToken::load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (token, created) = AdminToken::load_or_create(&path).unwrap();
        assert!(!created);
        assert!(token.matches("a-long-enough-operator-token"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
