//! Tollgate users and groups as SCIM resources (RFC 7643 §4), and the
//! PATCH operations of a membership change (RFC 7644 §3.5.2). Pure: no
//! HTTP, no database.

use crate::store::{DirectoryGroup, UserRow};
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

/// VMware Identity Service's user extension (vCenter's identity broker).
pub const WS1B_USER: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User";
/// VMware Identity Service's group extension.
pub const WS1B_GROUP: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:Group";

/// What a directory says about a user it owns, for the `ws1b` extension.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryFacts<'a> {
    pub dn: &'a str,
    /// The stable id as the account row keeps it (objectGUID as GUID text).
    pub external_id: &'a str,
}

/// The domain vCenter files a user under: the UPN suffix.
pub fn upn_domain(upn: &str) -> Option<&str> {
    upn.rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

/// Adds the `ws1b` User extension to `r` (a [`user_resource`]): `domain`
/// and `userPrincipalName` from the upn, and for a directory user its
/// `distinguishedName` and `adSourceAnchor` (the objectGUID's 16 bytes as
/// AD stores them, base64 — what AD-synced identity brokers anchor on).
pub fn add_ws1b_user(r: &mut Value, u: &UserRow, dir: Option<DirectoryFacts<'_>>) {
    let upn = user_name(u);
    let mut ext = json!({ "userPrincipalName": upn });
    if let Some(d) = upn_domain(upn) {
        ext["domain"] = json!(d);
    }
    if let Some(dir) = dir {
        ext["distinguishedName"] = json!(dir.dn);
        if let Some(bytes) = guid_bytes(dir.external_id) {
            use base64::Engine;
            ext["adSourceAnchor"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
    }
    add_extension(r, WS1B_USER, ext);
}

/// Adds the `ws1b` Group extension to `r` (a [`group_resource`]).
pub fn add_ws1b_group(r: &mut Value, member_upns: &[&str], dir: Option<&DirectoryGroup>) {
    add_extension(r, WS1B_GROUP, ws1b_group(member_upns, dir));
}

/// The `ws1b` Group extension. `domain`: the UPN suffix most of its
/// members share (ties: the first in sort order), so vCenter files the
/// group with its users; for a directory's group also its
/// `distinguishedName` and `description`.
pub fn ws1b_group(member_upns: &[&str], dir: Option<&DirectoryGroup>) -> Value {
    let mut domains: Vec<&str> = member_upns.iter().filter_map(|u| upn_domain(u)).collect();
    domains.sort_unstable();
    let mut best: Option<(&str, usize)> = None;
    for chunk in domains.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, n)| chunk.len() > n) {
            best = Some((chunk[0], chunk.len()));
        }
    }
    let mut ext = json!({});
    if let Some((d, _)) = best {
        ext["domain"] = json!(d);
    }
    if let Some(g) = dir {
        ext["distinguishedName"] = json!(g.dn);
        if let Some(text) = &g.description {
            ext["description"] = json!(text);
        }
    }
    ext
}

/// How a target's `ws1b` Group extension (`have`; `None`: it has none)
/// differs from the one Tollgate sends (`want`, from [`ws1b_group`]),
/// old → new, for `tollgate scim sync`: a DN or description changed in
/// the directory is a change even when no member did.
pub fn ws1b_group_differences(want: &Value, have: Option<&Value>) -> Vec<String> {
    let text = |v: Option<&Value>, key: &str| match v.and_then(|v| v.get(key)) {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => other.to_string(),
    };
    let mut out = Vec::new();
    for (key, label) in [
        ("domain", "ws1b domain"),
        ("distinguishedName", "ws1b distinguishedName"),
        ("description", "ws1b description"),
    ] {
        let (had, now) = (text(have, key), text(Some(want), key));
        if had != now {
            out.push(format!("{label} {had} → {now}"));
        }
    }
    out
}

/// What was pushed of a group, as `scim_resources.pushed` keeps it: the
/// member ids, and for a vCenter target the `ws1b` extension too, so a
/// changed DN or description is sent even when no member changed. Without
/// an extension it is the JSON list of ids alone (the older form).
pub fn group_pushed(members: &[String], ws1b: Option<&Value>) -> String {
    let v = match ws1b {
        Some(ext) => json!({ "members": members, "ws1b": ext }),
        None => json!(members),
    };
    v.to_string()
}

/// The inverse of [`group_pushed`]: member ids and the extension pushed
/// (`None` when none was, or the row is of the older form). Unreadable
/// text reads as nothing pushed, so the next delivery sends it all.
pub fn parse_group_pushed(text: &str) -> (Vec<String>, Option<Value>) {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => (
            o.get("members").map(member_values).unwrap_or_default(),
            o.get("ws1b").cloned(),
        ),
        Ok(list @ Value::Array(_)) => (member_values(&list), None),
        _ => (Vec::new(), None),
    }
}

fn member_values(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Adds extension `schema` with value `ext` to resource `r`.
pub fn add_extension(r: &mut Value, schema: &str, ext: Value) {
    if let Some(schemas) = r["schemas"].as_array_mut() {
        schemas.push(json!(schema));
    }
    r[schema] = ext;
}

/// The 16 objectGUID bytes of GUID text `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`
/// in AD's layout (the first three fields little-endian): the inverse of
/// `directory::mapping::guid_text`. `None` for any other id.
pub fn guid_bytes(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.split('-').collect();
    let parts: Vec<usize> = text.split('-').map(str::len).collect();
    if parts != [8, 4, 4, 4, 12] || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut b = [0u8; 16];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    Some(b)
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
    if want.get(WS1B_USER).is_some() && want.get(WS1B_USER) != have.get(WS1B_USER) {
        out.push(WS1B_USER);
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
    fn vcenter_users_carry_the_ws1b_extension() {
        let u = user("Dave Example", Some("dave@corp.example"), None);
        let mut r = user_resource(&u, true);
        let dir = DirectoryFacts {
            dn: "CN=dave,OU=Users,DC=corp,DC=example",
            // objectGUID bytes 78 56 34 12 34 12 78 56 9a bc … as AD writes them.
            external_id: "12345678-1234-5678-9abc-def012345678",
        };
        add_ws1b_user(&mut r, &u, Some(dir));
        assert_eq!(r["schemas"], json!([USER_SCHEMA, WS1B_USER]));
        assert_eq!(
            r[WS1B_USER],
            json!({
                "domain": "corp.example",
                "userPrincipalName": "dave@corp.example",
                "distinguishedName": "CN=dave,OU=Users,DC=corp,DC=example",
                // base64 of the bytes above (Python's base64.b64encode).
                "adSourceAnchor": "eFY0EjQSeFaavN7wEjRWeA==",
            })
        );
        // A local user: no directory facts; a login without a domain has none.
        let local = user("Bob", None, None);
        let mut r = user_resource(&local, true);
        add_ws1b_user(&mut r, &local, None);
        assert_eq!(r[WS1B_USER], json!({ "userPrincipalName": "alice" }));
        assert_eq!(guid_bytes("not-a-guid"), None);
        assert_eq!(guid_bytes("12345678-1234-5678-9abc-def01234567g"), None);
    }

    #[test]
    fn a_vcenter_group_takes_its_members_usual_domain() {
        let mut g = group_resource("VC Admins", &["r1".into()]);
        add_ws1b_group(
            &mut g,
            &["a@corp.example", "b@lab.example", "c@corp.example", "local"],
            None,
        );
        assert_eq!(g["schemas"], json!([GROUP_SCHEMA, WS1B_GROUP]));
        assert_eq!(g[WS1B_GROUP], json!({ "domain": "corp.example" }));
        let mut g = group_resource("x", &[]);
        add_ws1b_group(&mut g, &["local"], None);
        assert_eq!(g[WS1B_GROUP], json!({}));
    }

    /// (what Tollgate sends, what the target has, the differences shown).
    #[test]
    fn ws1b_group_differences_name_old_and_new() {
        let want = json!({
            "domain": "corp.example",
            "distinguishedName": "cn=vc,dc=corp",
            "description": "vCenter operators",
        });
        let cases: Vec<(Value, Option<Value>, Vec<&str>)> = vec![
            (want.clone(), Some(want.clone()), vec![]),
            (
                want.clone(),
                Some(json!({
                    "domain": "corp.example",
                    "distinguishedName": "cn=vc,dc=corp",
                    "description": "vSphere administrators",
                })),
                vec!["ws1b description \"vSphere administrators\" → \"vCenter operators\""],
            ),
            (
                want.clone(),
                Some(json!({
                    "domain": "corp.example",
                    "distinguishedName": "cn=vc,ou=old,dc=corp",
                    "description": "vCenter operators",
                    "extra": "the target's own",
                })),
                vec!["ws1b distinguishedName \"cn=vc,ou=old,dc=corp\" → \"cn=vc,dc=corp\""],
            ),
            (
                json!({ "domain": "corp.example" }),
                Some(json!({ "domain": "corp.example", "description": "old" })),
                vec!["ws1b description \"old\" → (none)"],
            ),
            (
                want.clone(),
                None,
                vec![
                    "ws1b domain (none) → \"corp.example\"",
                    "ws1b distinguishedName (none) → \"cn=vc,dc=corp\"",
                    "ws1b description (none) → \"vCenter operators\"",
                ],
            ),
        ];
        for (want, have, shown) in cases {
            assert_eq!(
                ws1b_group_differences(&want, have.as_ref()),
                shown,
                "{want} / {have:?}"
            );
        }
    }

    #[test]
    fn a_directory_group_carries_its_dn_and_description() {
        let facts = DirectoryGroup {
            name: "VC Admins".into(),
            dn: "CN=VC Admins,OU=Groups,DC=corp,DC=example".into(),
            description: Some("vSphere administrators".into()),
        };
        let mut g = group_resource("VC Admins", &[]);
        add_ws1b_group(&mut g, &["a@corp.example"], Some(&facts));
        assert_eq!(
            g[WS1B_GROUP],
            json!({
                "domain": "corp.example",
                "distinguishedName": "CN=VC Admins,OU=Groups,DC=corp,DC=example",
                "description": "vSphere administrators",
            })
        );
        let bare = DirectoryGroup {
            description: None,
            ..facts
        };
        let mut g = group_resource("VC Admins", &[]);
        add_ws1b_group(&mut g, &[], Some(&bare));
        assert_eq!(
            g[WS1B_GROUP],
            json!({ "distinguishedName": "CN=VC Admins,OU=Groups,DC=corp,DC=example" })
        );
    }

    #[test]
    fn what_was_pushed_of_a_group_reads_back() {
        let ids = vec!["r1".to_string(), "r2".to_string()];
        let ext = json!({ "description": "old" });
        let both = group_pushed(&ids, Some(&ext));
        assert_eq!(parse_group_pushed(&both), (ids.clone(), Some(ext)));
        // Without an extension: the list alone, as rows written before 0018.
        assert_eq!(group_pushed(&ids, None), r#"["r1","r2"]"#);
        assert_eq!(parse_group_pushed(r#"["r1","r2"]"#), (ids, None));
        assert_eq!(parse_group_pushed("garbage"), (vec![], None));
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
