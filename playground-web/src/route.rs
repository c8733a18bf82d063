//! The app's pages and their URLs. The server answers every path that is not
//! a file with `index.html`, so these survive a reload.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: the lesson catalog.
    Catalog,
    /// `/lessons/{id}`: a lesson with its session.
    Lesson {
        id: String,
    },
    /// `/join/{code}`: a learner joins a workshop with its code; `/join`
    /// (an empty code) asks for the code too.
    Join {
        code: String,
    },
    /// `/admin`: the operator's sessions and workshops (the admin token).
    Admin,
    /// `/admin/workshops/{id}`: one workshop, its code and its learners.
    AdminWorkshop {
        id: String,
    },
    NotFound,
}

impl Route {
    pub fn parse(path: &str) -> Route {
        let path = path.split(['?', '#']).next().unwrap_or("");
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [] | ["index.html"] => Route::Catalog,
            ["lessons", id] if valid_id(id) => Route::Lesson {
                id: (*id).to_owned(),
            },
            ["join"] => Route::Join {
                code: String::new(),
            },
            ["join", code] if valid_code(code) => Route::Join {
                code: (*code).to_owned(),
            },
            ["admin"] => Route::Admin,
            ["admin", "workshops", id] if valid_id(id) => Route::AdminWorkshop {
                id: (*id).to_owned(),
            },
            _ => Route::NotFound,
        }
    }

    pub fn path(&self) -> String {
        match self {
            Route::Catalog => "/".into(),
            Route::Lesson { id } => format!("/lessons/{id}"),
            Route::Join { code } if code.is_empty() => "/join".into(),
            Route::Join { code } => format!("/join/{code}"),
            Route::Admin => "/admin".into(),
            Route::AdminWorkshop { id } => format!("/admin/workshops/{id}"),
            Route::NotFound => "/404".into(),
        }
    }
}

/// Lesson and workshop ids are slugs; anything else is not a page.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A join code as it may appear in a link (`ABCD-EFGH`, any case); the server
/// decides whether it names a workshop.
fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for r in [
            Route::Catalog,
            Route::Lesson {
                id: "docker-101".into(),
            },
            Route::Join {
                code: "ABCD-EFGH".into(),
            },
            Route::Admin,
            Route::AdminWorkshop {
                id: "0a1b2c3d4e5f6a7b".into(),
            },
        ] {
            assert_eq!(Route::parse(&r.path()), r);
        }
        assert_eq!(
            Route::parse("/lessons/shell/?x=1"),
            Route::Lesson { id: "shell".into() }
        );
        assert_eq!(Route::parse("/lessons/a%20b"), Route::NotFound);
        assert_eq!(Route::parse("/nope"), Route::NotFound);
        assert_eq!(Route::parse(""), Route::Catalog);
    }

    #[test]
    fn admin_and_join_paths() {
        assert_eq!(Route::parse("/admin/"), Route::Admin);
        assert_eq!(
            Route::parse("/join/abcd-efgh?from=qr"),
            Route::Join {
                code: "abcd-efgh".into()
            }
        );
        assert_eq!(Route::parse("/join/ab%20cd"), Route::NotFound);
        assert_eq!(
            Route::parse("/join/"),
            Route::Join {
                code: String::new()
            }
        );
        assert_eq!(
            Route::Join {
                code: String::new()
            }
            .path(),
            "/join"
        );
        assert_eq!(Route::parse("/admin/workshops"), Route::NotFound);
        assert_eq!(Route::parse("/admin/sessions/x"), Route::NotFound);
    }
}
