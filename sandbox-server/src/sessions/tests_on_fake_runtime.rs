//! Sessions on a [`FakeRuntime`](crate::runtime::fake::FakeRuntime).
