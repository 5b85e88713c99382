//! What a code and a refresh token remember about the authorization. The
//! types are stored JSON, so they live in `store/grant_data.rs`.

pub use crate::store::{AuthContext, CodeData, RefreshData};
