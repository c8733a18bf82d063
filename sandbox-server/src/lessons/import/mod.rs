//! Importers: each reads one lesson format from disk into a [`draft::Draft`]
//! (the lesson before its Markdown is parsed), reporting problems as
//! `file:line: message`. [`super::loader`] picks the importer and
//! [`super::assemble`] turns the draft into a [`super::Lesson`].
//!
//! Dependencies point one way: the loader uses the importers, the importers
//! use [`draft`] (plus `diag` and `markdown`), and `draft` uses no importer.
//! [`carry`] maps join commands labs copy between terminals onto captures,
//! on any importer's draft.
//! [`prose`] maps instructions in prose (leave a program, expect an error)
//! onto runnable blocks, on any importer's draft.

pub mod carry;
pub mod draft;
pub mod html;
pub mod killercoda;
pub mod native;
pub mod prose;
pub mod pwd;
pub mod settings;
#[cfg(test)]
mod test_drafts;
