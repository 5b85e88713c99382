//! Tollgate users and groups as SCIM resources (RFC 7643 §4), and the
//! PATCH operations of a membership change (RFC 7644 §3.5.2). Pure: no
//! HTTP, no database.

use crate::store::UserRow;
use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The `userName` a target gets: the upn (`user@domain`, what vCenter
/// matches the ID token's `upn` claim against), else the login.
pub fn user_name(u: &UserRow) -> &str {
    u.upn.as_deref().unwrap_or(&u.login)
}

/// Given and family name, only when the display name is exactly two words
/// ("Alice Example"). Anything else ("张三", "Jean de La Fontaine") is
/// sent as `formatted` only rather than guessed wrong.
fn split_name(display: &str) -> Option<(&str, &str)> {
    let mut parts = display.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(g), Some(f), None) if !g.is_empty() && !f.is_empty() => Some((g, f)),
        _ => None,
    }
}

/// The SCIM User for `u`. `externalId` is Tollgate's immutable user id;
/// `active` is false for a disabled user or one outside the target's scope.
pub fn user_resource(u: &UserRow, active: bool) -> Value {
    let mut name = json!({ "formatted": u.display_name });
    if let Some((given, family)) = split_name(&u.display_name) {
        name["givenName"] = json!(given);
        name["familyName"] = json!(family);
    }
    let mut r = json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name(u),
        "externalId": u.id,
        "active": active,
        "displayName": u.display_name,
        "name": name,
    });
    if let Some(email) = &u.email {
        r["emails"] = json!([{ "value": email, "type": "work", "primary": true }]);
    }
    r
}

/// The SCIM Group `name` with members given by their target ids.
/// `externalId` is the group name: it is the group's identity in Tollgate.
pub fn group_resource(name: &str, members: &[String]) -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "externalId": name,
        "members": members.iter().map(|m| json!({ "value": m })).collect::<Vec<_>>(),
    })
}

/// The PATCH request that turns member list `had` into `want`, or `None`
/// when they are the same set.
pub fn membership_patch(had: &[String], want: &[String]) -> Option<Value> {
    let add: Vec<Value> = want
        .iter()
        .filter(|m| !had.contains(m))
        .map(|m| json!({ "value": m }))
        .collect();
    let mut ops = Vec::new();
    if !add.is_empty() {
        ops.push(json!({ "op": "add", "path": "members", "value": add }));
    }
    for m in had.iter().filter(|m| !want.contains(m)) {
        ops.push(json!({
            "op": "remove",
            "path": format!("members[value eq {}]", Value::from(m.as_str())),
        }));
    }
    (!ops.is_empty()).then(|| json!({ "schemas": [PATCH_SCHEMA], "Operations": ops }))
}

/// The attributes of a user resource that differ between what Tollgate
/// wants and what the target has (for `tollgate scim sync --dry-run`).
pub fn user_differences(want: &Value, have: &Value) -> Vec<&'static str> {
    let mut out = Vec::new();
    for attr in ["userName", "externalId", "active", "displayName"] {
        if want.get(attr) != have.get(attr) {
            out.push(attr);
        }
    }
    let sub = |v: &Value, a: &str, b: &str| v.get(a).and_then(|x| x.get(b)).cloned();
    for part in ["formatted", "givenName", "familyName"] {
        if sub(want, "name", part) != sub(have, "name", part) {
            out.push("name");
            break;
        }
    }
    let email = |v: &Value| {
        v.get("emails")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|e| e.get("value"))
            .cloned()
    };
    if email(want) != email(have) {
        out.push("emails");
    }
    out
}

/// Member ids of a group resource the target returned.
pub fn member_ids(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(display: &str, upn: Option<&str>, email: Option<&str>) -> UserRow {
        UserRow {
            id: "u-1".into(),
            login: "alice".into(),
            display_name: display.into(),
            email: email.map(str::to_string),
            upn: upn.map(str::to_string),
            groups: vec![],
            disabled: false,
            password_hash: None,
        }
    }

    #[test]
    fn users_map_to_scim_attributes() {
        let r = user_resource(
            &user(
                "Alice Example",
                Some("alice@corp.example"),
                Some("a@x.example"),
            ),
            true,
        );
        assert_eq!(r["userName"], "alice@corp.example");
        assert_eq!(r["externalId"], "u-1");
        assert_eq!(r["active"], true);
        assert_eq!(r["name"]["givenName"], "Alice");
        assert_eq!(r["name"]["familyName"], "Example");
        assert_eq!(r["emails"][0]["value"], "a@x.example");
        let r = user_resource(&user("张三", None, None), false);
        assert_eq!(r["userName"], "alice", "login when there is no upn");
        assert_eq!(r["active"], false);
        assert_eq!(r["name"], json!({"formatted": "张三"}));
        assert!(r.get("emails").is_none());
        let r = user_resource(&user("Jean de La Fontaine", None, None), true);
        assert!(r["name"].get("givenName").is_none());
    }

    #[test]
    fn membership_changes_become_add_and_remove_operations() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(membership_patch(&s(&["a", "b"]), &s(&["b", "a"])), None);
        let p = membership_patch(&s(&["a", "b"]), &s(&["b", "c"])).unwrap();
        assert_eq!(p["schemas"][0], PATCH_SCHEMA);
        assert_eq!(
            p["Operations"],
            json!([
                {"op": "add", "path": "members", "value": [{"value": "c"}]},
                {"op": "remove", "path": "members[value eq \"a\"]"},
            ])
        );
        let g = group_resource("ops", &s(&["x"]));
        assert_eq!(member_ids(&g), s(&["x"]));
        assert_eq!(g["displayName"], "ops");
    }

    #[test]
    fn differences_name_the_attributes() {
        let want = user_resource(&user("Alice Example", Some("a@c"), Some("a@x")), true);
        assert!(user_differences(&want, &want).is_empty());
        let mut have = want.clone();
        have["active"] = json!(false);
        have["emails"] = json!([{"value": "old@x"}]);
        have["name"]["familyName"] = json!("Other");
        assert_eq!(
            user_differences(&want, &have),
            vec!["active", "name", "emails"]
        );
    }
}
