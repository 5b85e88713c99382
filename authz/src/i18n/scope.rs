//! The locale of the request being handled: set once by the HTTP layer's
//! locale middleware (`http/locale.rs`) around the handler, read by the
//! catalogs and the templates' `t` filters, so no handler passes a
//! language around.
//!
//! A task-local `Cell`, not a parameter: handlers that learn the
//! interaction's OIDC `ui_locales` raise it with one call
//! ([`prefer_ui_locales`]). Outside a request (CLI, unit tests) the
//! locale is `en`.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use super::branding::Branding;

/// What the middleware negotiated, and whether the user chose it.
#[derive(Debug, Clone, Copy)]
struct Current {
    locale: &'static str,
    /// The user's own choice (the switch's cookie): nothing overrides it.
    chosen: bool,
}

/// The request's locale and the server's branding (its message overrides).
struct Scope {
    current: Cell<Current>,
    branding: Arc<Branding>,
}

tokio::task_local! {
    static LOCALE: Scope;
}

/// Runs `f` with `locale` as the request's locale; `chosen` when it is
/// the user's own choice, which `ui_locales` then does not override.
/// `branding`'s messages take precedence over the catalogs' in `f`.
pub async fn scope<F: Future>(
    locale: &'static str,
    chosen: bool,
    branding: Arc<Branding>,
    f: F,
) -> F::Output {
    let scope = Scope {
        current: Cell::new(Current { locale, chosen }),
        branding,
    };
    LOCALE.scope(scope, f).await
}

/// `f` of the current request's branding; `None` outside a request.
pub(super) fn with_branding<T>(f: impl FnOnce(&Branding) -> Option<T>) -> Option<T> {
    LOCALE.try_with(|s| f(&s.branding)).ok().flatten()
}

/// The current request's server branding (its templates); `None`
/// outside a request.
pub fn branding() -> Option<Arc<Branding>> {
    LOCALE.try_with(|s| s.branding.clone()).ok()
}

/// The locale of the current request; `en` outside one.
pub fn current() -> &'static str {
    LOCALE
        .try_with(|s| s.current.get().locale)
        .unwrap_or(super::SUPPORTED[0])
}

/// The relying party's OIDC `ui_locales` (kept on the interaction) take
/// precedence over `Accept-Language`, never over the user's own choice.
/// Unsupported tags change nothing.
pub fn prefer_ui_locales(ui_locales: Option<&str>) {
    let Some(l) = ui_locales
        .into_iter()
        .flat_map(str::split_whitespace)
        .find_map(super::supported)
    else {
        return;
    };
    let _ = LOCALE.try_with(|s| {
        let now = s.current.get();
        if !now.chosen {
            s.current.set(Current { locale: l, ..now });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ui_locales_raise_the_negotiated_locale_but_not_the_users_choice() {
        assert_eq!(current(), "en");
        let got = scope("en", false, Arc::default(), async {
            prefer_ui_locales(Some("fr zh-Hans"));
            current()
        })
        .await;
        assert_eq!(got, "zh-CN");
        let kept = scope("en", true, Arc::default(), async {
            prefer_ui_locales(Some("zh-CN"));
            current()
        })
        .await;
        assert_eq!(kept, "en");
        let unsupported = scope("zh-CN", false, Arc::default(), async {
            prefer_ui_locales(Some("fr de"));
            current()
        })
        .await;
        assert_eq!(unsupported, "zh-CN");
    }
}
