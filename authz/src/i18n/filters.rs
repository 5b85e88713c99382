//! askama filters for the templates: `{{ "id"|t }}`, `{{ "id"|t1("name",
//! value) }}`, `{{ "id"|t2("a", x, "b", y) }}`, `{{ sentence|tr }}` and
//! `{{ acr|level }}`. Each template module imports them with
//! `use crate::i18n::filters;`. The result is escaped like any value.

use std::fmt::Display;

/// Message `id` in the request's locale.
pub fn t<I: Display>(id: I) -> askama::Result<String> {
    Ok(super::t(&id.to_string()))
}

/// Message `id` with one variable.
pub fn t1<I: Display, K: Display, V: Display>(id: I, k: K, v: V) -> askama::Result<String> {
    Ok(super::t_args(
        &id.to_string(),
        &[(&k.to_string(), &v.to_string())],
    ))
}

/// Message `id` with two variables.
pub fn t2<I: Display, K: Display, V: Display, L: Display, W: Display>(
    id: I,
    k: K,
    v: V,
    l: L,
    w: W,
) -> askama::Result<String> {
    Ok(super::t_args(
        &id.to_string(),
        &[
            (&k.to_string(), &v.to_string()),
            (&l.to_string(), &w.to_string()),
        ],
    ))
}

/// An English sentence a handler passed, in the request's locale.
pub fn tr<S: Display>(s: S) -> askama::Result<String> {
    Ok(super::tr(&s.to_string()))
}

/// An assurance level (`aal2`) in plain words ("a second factor").
pub fn level<S: Display>(acr: S) -> askama::Result<String> {
    Ok(super::words::level(&acr.to_string()))
}
