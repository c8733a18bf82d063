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
            _ => Route::NotFound,
        }
    }

    pub fn path(&self) -> String {
        match self {
            Route::Catalog => "/".into(),
            Route::Lesson { id } => format!("/lessons/{id}"),
            Route::NotFound => "/404".into(),
        }
    }
}

/// Lesson ids are slugs; anything else is not a lesson page.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
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
}
