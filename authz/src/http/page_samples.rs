//! Every page's sample contexts with its template name: what
//! `Templates::load` renders an operator's overrides with at start
//! (`Branding::load`), and what the tests render the built-in pages with.

use super::pages::Page;
use minijinja::value::Value;

/// Every page's samples, with its template.
pub fn samples() -> Vec<(&'static str, Value)> {
    fn of<P: Page>(out: &mut Vec<(&'static str, Value)>) {
        out.extend(
            P::samples()
                .iter()
                .map(|p| (P::TEMPLATE, Value::from_serialize(p))),
        );
    }
    let mut out = Vec::new();
    of::<super::pages::LoginPage>(&mut out);
    of::<super::pages::UnmetPage>(&mut out);
    of::<super::pages::MessagePage>(&mut out);
    of::<super::pages::LogoutPage>(&mut out);
    of::<super::pages::DemoPage>(&mut out);
    of::<super::pages::DeviceApprovalPage>(&mut out);
    of::<super::account::AccountPage>(&mut out);
    of::<super::account_totp::TotpEnrollPage>(&mut out);
    of::<super::account_totp::TotpStartPage>(&mut out);
    of::<super::account_totp::RecoveryPage>(&mut out);
    of::<super::factor_page::FactorPage>(&mut out);
    of::<super::home::HomePage>(&mut out);
    of::<super::password_reset::ResetPage>(&mut out);
    out
}
