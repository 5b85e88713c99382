//! The templates' filters (minijinja): `{{ "id"|t }}`, `{{ "id"|t1("name",
//! value) }}`, `{{ "id"|t2("a", x, "b", y) }}`, `{{ sentence|tr }}` and
//! `{{ acr|level }}`, in the request's locale (the locale scope). Their
//! result is a plain string, escaped like any value. Message ids and
//! variable names must be strings (a number there is a template error,
//! caught by the start-up check); variable values may be any value.

use minijinja::Environment;
use minijinja::value::Value;

/// Adds the filters to `env` (the engine of `http/templates.rs`).
pub fn register(env: &mut Environment<'_>) {
    env.add_filter("t", t);
    env.add_filter("t1", t1);
    env.add_filter("t2", t2);
    env.add_filter("tr", tr);
    env.add_filter("level", level);
}

/// Message `id` in the request's locale.
fn t(id: &str) -> String {
    super::t(id)
}

/// Message `id` with one variable.
fn t1(id: &str, k: &str, v: Value) -> String {
    super::t_args(id, &[(k, &v.to_string())])
}

/// Message `id` with two variables.
fn t2(id: &str, k: &str, v: Value, l: &str, w: Value) -> String {
    super::t_args(id, &[(k, &v.to_string()), (l, &w.to_string())])
}

/// An English sentence a handler passed, in the request's locale.
fn tr(s: &str) -> String {
    super::tr(s)
}

/// An assurance level (`aal2`) in plain words ("a second factor").
fn level(acr: &str) -> String {
    super::words::level(acr)
}
