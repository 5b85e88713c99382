//! From an LDAP entry to a user record: pure, so every preset and every
//! odd entry is a row in a table test.
//!
//! [`Mapping`] is a preset with the operator's overrides applied;
//! [`Entry`] is an entry as the wire gave it (text and binary values);
//! [`to_record`] turns one into a [`DirectoryRecord`], or says why the
//! entry is not a usable user (no login, no stable id) so sync can report
//! it instead of guessing.

use super::config::{DirectoryConfig, Preset};
pub use crate::store::{DirectoryGroup, DirectoryRecord};
use std::collections::HashMap;

/// How a directory says an account is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisabledRule {
    /// An integer attribute with bit 0x2 set (AD's `userAccountControl`
    /// `ACCOUNTDISABLE`).
    Flag(String),
    /// Any value of the attribute present (ppolicy's `pwdAccountLockedTime`).
    Present(String),
    /// The directory cannot say; removal is the only way out.
    Never,
}

/// How the stable id is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFormat {
    /// 16 bytes in Microsoft's GUID layout (objectGUID), written as AD
    /// tools show it (`{…}` without braces, first three fields swapped).
    Guid,
    /// Text as sent (entryUUID).
    Text,
}

/// Attribute names and filters, resolved from a preset and overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub login: String,
    pub id: String,
    pub id_format: IdFormat,
    pub display_name: String,
    pub email: String,
    pub upn: Option<String>,
    pub member_of: String,
    pub disabled: DisabledRule,
    pub user_filter: String,
    pub group_filter: String,
    pub group_name: String,
    pub group_member: String,
    /// The attribute holding a group's DN (AD's `distinguishedName`);
    /// `None`: the entry's DN.
    pub group_dn: Option<String>,
    /// A group's description (vCenter shows it).
    pub group_description: String,
    /// `group_prefix`: in front of every group name (empty: none).
    pub group_prefix: String,
}

impl Mapping {
    /// The preset's names with the entry's overrides.
    pub fn of(c: &DirectoryConfig) -> Mapping {
        let mut m = match c.preset {
            Preset::ActiveDirectory => Mapping {
                login: "sAMAccountName".into(),
                id: "objectGUID".into(),
                id_format: IdFormat::Guid,
                display_name: "displayName".into(),
                email: "mail".into(),
                upn: Some("userPrincipalName".into()),
                member_of: "memberOf".into(),
                disabled: DisabledRule::Flag("userAccountControl".into()),
                // Computers are users too in AD; they never sign in here.
                user_filter: "(&(objectClass=user)(objectClass=person)(!(objectClass=computer)))"
                    .into(),
                group_filter: "(objectClass=group)".into(),
                group_name: "cn".into(),
                group_member: "member".into(),
                group_dn: Some("distinguishedName".into()),
                group_description: "description".into(),
                group_prefix: String::new(),
            },
            Preset::Openldap => Mapping {
                login: "uid".into(),
                id: "entryUUID".into(),
                id_format: IdFormat::Text,
                display_name: "cn".into(),
                email: "mail".into(),
                upn: None,
                member_of: "memberOf".into(),
                disabled: DisabledRule::Present("pwdAccountLockedTime".into()),
                user_filter: "(objectClass=inetOrgPerson)".into(),
                group_filter: "(objectClass=groupOfNames)".into(),
                group_name: "cn".into(),
                group_member: "member".into(),
                group_dn: None,
                group_description: "description".into(),
                group_prefix: String::new(),
            },
        };
        let a = &c.attributes;
        let set = |field: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                field.clone_from(v);
            }
        };
        set(&mut m.login, &a.login);
        set(&mut m.id, &a.id);
        set(&mut m.display_name, &a.display_name);
        set(&mut m.email, &a.email);
        set(&mut m.member_of, &a.member_of);
        set(&mut m.group_name, &a.group_name);
        set(&mut m.group_member, &a.group_member);
        if let Some(u) = &a.upn {
            m.upn = Some(u.clone());
        }
        if let Some(f) = &a.disabled_flag {
            m.disabled = DisabledRule::Flag(f.clone());
        }
        if let Some(p) = &a.disabled_when_present {
            m.disabled = DisabledRule::Present(p.clone());
        }
        if let Some(f) = &c.user_filter {
            m.user_filter.clone_from(f);
        }
        if let Some(f) = &c.group_filter {
            m.group_filter.clone_from(f);
        }
        if let Some(p) = &c.group_prefix {
            m.group_prefix.clone_from(p);
        }
        m
    }

    /// The name a directory group has here: with `group_prefix`.
    pub fn group(&self, name: &str) -> String {
        format!("{}{name}", self.group_prefix)
    }

    /// The attributes a user search asks for (operational ones such as
    /// `entryUUID` and `memberOf` are only sent when named).
    pub fn user_attributes(&self) -> Vec<String> {
        let mut v = vec![
            self.login.clone(),
            self.id.clone(),
            self.display_name.clone(),
            self.email.clone(),
            self.member_of.clone(),
        ];
        v.extend(self.upn.clone());
        match &self.disabled {
            DisabledRule::Flag(a) | DisabledRule::Present(a) => v.push(a.clone()),
            DisabledRule::Never => {}
        }
        v
    }

    /// The attributes a group search asks for.
    pub fn group_attributes(&self) -> Vec<String> {
        let mut v = vec![
            self.group_name.clone(),
            self.group_member.clone(),
            self.group_description.clone(),
        ];
        v.extend(self.group_dn.clone());
        v
    }

    /// `(&user_filter(login=VALUE))`, the value escaped (RFC 4515), so a
    /// login like `*)(uid=*` matches nothing but itself.
    pub fn login_filter(&self, login: &str) -> String {
        format!(
            "(&{}({}={}))",
            self.user_filter,
            self.login,
            ldap3::ldap_escape(login)
        )
    }
}

/// An entry as read from the wire. Attribute names compare
/// case-insensitively, as LDAP's do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub text: HashMap<String, Vec<String>>,
    pub binary: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    fn values(&self, attr: &str) -> &[String] {
        self.text
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
            .map_or(&[], |(_, v)| v.as_slice())
    }

    fn first(&self, attr: &str) -> Option<&str> {
        self.values(attr)
            .iter()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
    }

    /// The first value's bytes, whether it arrived as text (valid UTF-8)
    /// or binary.
    fn first_bytes(&self, attr: &str) -> Option<Vec<u8>> {
        if let Some(v) = self.values(attr).first() {
            return Some(v.as_bytes().to_vec());
        }
        self.binary
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
            .and_then(|(_, v)| v.first().cloned())
    }
}

/// `objectGUID`'s 16 bytes as AD writes the GUID: the first three fields
/// little-endian, the rest as stored.
pub fn guid_text(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// The value of a DN's first RDN (`CN=VC Admins,OU=Groups,…` → `VC
/// Admins`), with RFC 4514 escapes undone. `None` for what is not a DN.
pub fn first_rdn_value(dn: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = dn.chars();
    let mut seen_eq = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let n = chars.next()?;
                if n.is_ascii_hexdigit() {
                    // `\2C` style: a hex pair; only ASCII is decoded, the rest kept.
                    let m = chars.next()?;
                    let byte = u8::from_str_radix(&format!("{n}{m}"), 16).ok()?;
                    if seen_eq && byte.is_ascii() {
                        out.push(char::from(byte));
                    }
                } else if seen_eq {
                    out.push(n);
                }
            }
            '=' if !seen_eq => seen_eq = true,
            ',' | '+' => break,
            _ if seen_eq => out.push(c),
            _ => {}
        }
    }
    let v = out.trim().to_owned();
    (seen_eq && !v.is_empty()).then_some(v)
}

/// Whether an AD-style flag attribute has the disabled bit (0x2).
fn flag_disabled(v: &str) -> Result<bool, String> {
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{v:?} is not an integer"))?;
    Ok(n & 0x2 != 0)
}

/// One entry as a user. `group_names` maps group DNs (lowercased) to
/// names when groups were searched; without it, names come from the
/// `memberOf` DNs themselves.
pub fn to_record(
    e: &Entry,
    m: &Mapping,
    group_names: Option<&HashMap<String, String>>,
) -> Result<DirectoryRecord, String> {
    let login = e
        .first(&m.login)
        .ok_or_else(|| format!("{}: no {} (the login name)", e.dn, m.login))?
        .to_owned();
    if login.len() > 256 || login.chars().any(char::is_control) {
        return Err(format!("{}: {} is not a usable login name", e.dn, m.login));
    }
    let raw_id = e
        .first_bytes(&m.id)
        .ok_or_else(|| format!("{}: no {} (the stable id)", e.dn, m.id))?;
    let external_id = match m.id_format {
        IdFormat::Guid => {
            guid_text(&raw_id).ok_or_else(|| format!("{}: {} is not a 16-byte GUID", e.dn, m.id))?
        }
        IdFormat::Text => String::from_utf8(raw_id)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{}: {} is empty or not text", e.dn, m.id))?,
    };
    let disabled = match &m.disabled {
        DisabledRule::Flag(a) => match e.first(a) {
            Some(v) => flag_disabled(v).map_err(|why| format!("{}: {a} {why}", e.dn))?,
            None => false,
        },
        DisabledRule::Present(a) => e.first(a).is_some(),
        DisabledRule::Never => false,
    };
    let mut groups: Vec<String> = e
        .values(&m.member_of)
        .iter()
        .filter_map(|dn| match group_names {
            // (names from a group search carry the prefix already)
            Some(names) => names.get(&dn.to_lowercase()).cloned(),
            None => first_rdn_value(dn).map(|n| m.group(&n)),
        })
        .collect();
    groups.sort();
    groups.dedup();
    Ok(DirectoryRecord {
        external_id,
        dn: e.dn.clone(),
        display_name: e.first(&m.display_name).unwrap_or(&login).to_owned(),
        email: e.first(&m.email).map(str::to_owned),
        upn: m.upn.as_deref().and_then(|a| e.first(a)).map(str::to_owned),
        login,
        groups,
        disabled,
    })
}

/// What a group search found: names by lowercased DN, each member's
/// groups (member DN lowercased → group DNs), and the groups themselves.
#[derive(Debug, Default)]
pub struct GroupIndex {
    pub names: HashMap<String, String>,
    pub members: HashMap<String, Vec<String>>,
    pub groups: Vec<DirectoryGroup>,
}

/// Group entries indexed, for directories whose users carry no `memberOf`
/// and for the groups' own DN and description.
pub fn group_index(groups: &[Entry], m: &Mapping) -> GroupIndex {
    let mut index = GroupIndex::default();
    for g in groups {
        let Some(name) = g
            .first(&m.group_name)
            .map(str::to_owned)
            .or_else(|| first_rdn_value(&g.dn))
            .map(|n| m.group(&n))
        else {
            continue;
        };
        for member in g.values(&m.group_member) {
            index
                .members
                .entry(member.to_lowercase())
                .or_default()
                .push(g.dn.clone());
        }
        index.names.insert(g.dn.to_lowercase(), name.clone());
        let dn = m
            .group_dn
            .as_deref()
            .and_then(|a| g.first(a))
            .unwrap_or(&g.dn);
        index.groups.push(DirectoryGroup {
            name,
            dn: dn.to_owned(),
            description: g.first(&m.group_description).map(str::to_owned),
        });
    }
    index
}

/// The groups named by users' `member_of` DNs, for a directory without a
/// group search: the DN is known, a description is not.
pub fn member_of_groups(users: &[Entry], m: &Mapping) -> Vec<DirectoryGroup> {
    let mut by_name = std::collections::BTreeMap::new();
    for dn in users.iter().flat_map(|e| e.values(&m.member_of)) {
        if let Some(name) = first_rdn_value(dn) {
            by_name
                .entry(m.group(&name))
                .or_insert_with(|| dn.trim().to_owned());
        }
    }
    by_name
        .into_iter()
        .map(|(name, dn)| DirectoryGroup {
            name,
            dn,
            description: None,
        })
        .collect()
}

/// Adds to `e` the `member_of` values the group search found for it, so a
/// directory with groups but no `memberOf` overlay maps the same way.
pub fn with_memberships(
    mut e: Entry,
    m: &Mapping,
    members: &HashMap<String, Vec<String>>,
) -> Entry {
    if let Some(groups) = members.get(&e.dn.to_lowercase()) {
        let key = e
            .text
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&m.member_of))
            .cloned()
            .unwrap_or_else(|| m.member_of.clone());
        let list = e.text.entry(key).or_default();
        for g in groups {
            if !list.iter().any(|x| x.eq_ignore_ascii_case(g)) {
                list.push(g.clone());
            }
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(preset: &str, extra: &str) -> Mapping {
        let c: DirectoryConfig = toml::from_str(&format!(
            "name = \"d\"\nurl = \"ldaps://d\"\nbind_dn = \"x\"\nbind_password_env = \"P\"\n\
             user_base = \"dc=x\"\npreset = \"{preset}\"\n{extra}"
        ))
        .expect("config");
        Mapping::of(&c)
    }

    fn entry(dn: &str, text: &[(&str, &[&str])], binary: &[(&str, &[u8])]) -> Entry {
        Entry {
            dn: dn.into(),
            text: text
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            binary: binary
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_vec()]))
                .collect(),
        }
    }

    const GUID: [u8; 16] = [
        0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56,
        0x78,
    ];

    fn check(e: Entry, m: &Mapping, want: Result<DirectoryRecord, &str>) {
        match (to_record(&e, m, None), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => assert!(got.contains(want), "{got} / {want}"),
            (got, want) => panic!("{e:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn active_directory_entries() {
        let ad = mapping("active_directory", "");
        let dn = "CN=Bob Builder,OU=Staff,DC=corp,DC=example";
        let bob = |uac: &str| {
            entry(
                dn,
                &[
                    ("sAMAccountName", &["bob"]),
                    ("userPrincipalName", &["bob@corp.example"]),
                    ("displayName", &["Bob Builder"]),
                    ("userAccountControl", &[uac]),
                    (
                        "memberOf",
                        &[
                            "CN=VC Admins,OU=Groups,DC=corp,DC=example",
                            "CN=R\\2CD,OU=Groups,DC=corp,DC=example",
                        ],
                    ),
                ],
                &[("objectGUID", &GUID)],
            )
        };
        let record = |disabled| DirectoryRecord {
            external_id: "12345678-1234-5678-9abc-def012345678".into(),
            dn: dn.into(),
            login: "bob".into(),
            display_name: "Bob Builder".into(),
            email: None,
            upn: Some("bob@corp.example".into()),
            groups: vec!["R,D".into(), "VC Admins".into()],
            disabled,
        };
        check(bob("512"), &ad, Ok(record(false)));
        check(bob("514"), &ad, Ok(record(true)));
        check(bob("66050"), &ad, Ok(record(true)));
        check(bob("66048"), &ad, Ok(record(false)));
        check(
            bob("lots"),
            &ad,
            Err("userAccountControl \"lots\" is not an integer"),
        );
        let mut short = bob("512");
        short
            .binary
            .insert("objectGUID".into(), vec![vec![1, 2, 3]]);
        check(short, &ad, Err("objectGUID is not a 16-byte GUID"));
        let mut none = bob("512");
        none.binary.clear();
        check(none, &ad, Err("no objectGUID"));
        let mut nologin = bob("512");
        nologin.text.remove("sAMAccountName");
        check(nologin, &ad, Err("no sAMAccountName"));
        // A GUID whose bytes happen to be UTF-8 arrives as text.
        let mut ascii = bob("512");
        ascii.binary.clear();
        ascii
            .text
            .insert("OBJECTGUID".into(), vec!["ABCDEFGHIJKLMNOP".into()]);
        let got = to_record(&ascii, &ad, None).unwrap();
        assert_eq!(got.external_id, "44434241-4645-4847-494a-4b4c4d4e4f50");
    }

    #[test]
    fn openldap_entries() {
        let ol = mapping("openldap", "");
        let dn = "uid=alice,ou=people,dc=example,dc=org";
        let alice = |extra: &[(&str, &[&str])]| {
            let mut text: Vec<(&str, &[&str])> = vec![
                ("uid", &["alice"]),
                ("cn", &["Alice Liddell"]),
                ("mail", &["alice@example.org"]),
                ("entryUUID", &["d10e4d02-8258-1041-853b-6beed98fab64"]),
                ("memberOf", &["cn=vc-admins,ou=groups,dc=example,dc=org"]),
            ];
            text.extend_from_slice(extra);
            entry(dn, &text, &[])
        };
        let record = |disabled| DirectoryRecord {
            external_id: "d10e4d02-8258-1041-853b-6beed98fab64".into(),
            dn: dn.into(),
            login: "alice".into(),
            display_name: "Alice Liddell".into(),
            email: Some("alice@example.org".into()),
            upn: None,
            groups: vec!["vc-admins".into()],
            disabled,
        };
        check(alice(&[]), &ol, Ok(record(false)));
        check(
            alice(&[("pwdAccountLockedTime", &["000001010000Z"])]),
            &ol,
            Ok(record(true)),
        );
        let upn = mapping("openldap", "[attributes]\nupn = \"mail\"\nlogin = \"mail\"");
        let got = to_record(&alice(&[]), &upn, None).unwrap();
        assert_eq!(
            (got.login.as_str(), got.upn.as_deref()),
            ("alice@example.org", Some("alice@example.org"))
        );
    }

    #[test]
    fn groups_from_a_group_search() {
        let ol = mapping("openldap", "group_base = \"ou=groups,dc=x\"");
        let groups = [
            entry(
                "cn=ops,ou=groups,dc=x",
                &[("cn", &["ops"]), ("member", &["UID=alice,ou=people,dc=x"])],
                &[],
            ),
            entry("cn=empty,ou=groups,dc=x", &[("cn", &["empty"])], &[]),
        ];
        let index = group_index(&groups, &ol);
        let alice = entry(
            "uid=alice,ou=people,dc=x",
            &[("uid", &["alice"]), ("entryUUID", &["u-1"])],
            &[],
        );
        let alice = with_memberships(alice, &ol, &index.members);
        let got = to_record(&alice, &ol, Some(&index.names)).unwrap();
        assert_eq!(got.groups, vec!["ops"]);
        assert_eq!(index.names.len(), 2);
    }

    #[test]
    fn groups_keep_their_dn_and_description() {
        // AD: the DN from distinguishedName, as AD writes it.
        let ad = mapping("active_directory", "group_base = \"ou=groups,dc=x\"");
        let g = entry(
            "cn=vc admins,ou=groups,dc=x",
            &[
                ("cn", &["VC Admins"]),
                ("distinguishedName", &["CN=VC Admins,OU=Groups,DC=x"]),
                ("description", &["vSphere administrators"]),
            ],
            &[],
        );
        let bare = entry("cn=ops,ou=groups,dc=x", &[("cn", &["ops"])], &[]);
        assert_eq!(
            group_index(&[g.clone(), bare.clone()], &ad).groups,
            vec![
                DirectoryGroup {
                    name: "VC Admins".into(),
                    dn: "CN=VC Admins,OU=Groups,DC=x".into(),
                    description: Some("vSphere administrators".into()),
                },
                DirectoryGroup {
                    name: "ops".into(),
                    dn: "cn=ops,ou=groups,dc=x".into(),
                    description: None,
                },
            ]
        );
        // OpenLDAP: the entry's own DN, whatever attributes it carries.
        let ol = mapping("openldap", "group_base = \"ou=groups,dc=x\"");
        assert_eq!(
            group_index(&[g], &ol).groups[0].dn,
            "cn=vc admins,ou=groups,dc=x"
        );
        assert!(ad.group_attributes().contains(&"description".to_string()));
        assert!(
            ad.group_attributes()
                .contains(&"distinguishedName".to_string())
        );
        // Without a group search: the memberOf DNs, once per name.
        let users = [
            entry(
                "uid=a,dc=x",
                &[("memberOf", &["cn=ops,ou=g,dc=x", "cn=dev,ou=g,dc=x"])],
                &[],
            ),
            entry("uid=b,dc=x", &[("memberOf", &["CN=ops,OU=g,DC=x"])], &[]),
        ];
        assert_eq!(
            member_of_groups(&users, &ol),
            vec![
                DirectoryGroup {
                    name: "dev".into(),
                    dn: "cn=dev,ou=g,dc=x".into(),
                    description: None,
                },
                DirectoryGroup {
                    name: "ops".into(),
                    dn: "cn=ops,ou=g,dc=x".into(),
                    description: None,
                },
            ]
        );
    }

    /// `group_prefix` reaches every group name the directory provides: a
    /// user's groups with and without a group search, and the groups
    /// themselves (their DN stays the directory's).
    #[test]
    fn the_group_prefix_is_on_every_group_name() {
        let user = || {
            entry(
                "uid=alice,ou=people,dc=x",
                &[
                    ("uid", &["alice"]),
                    ("entryUUID", &["u-1"]),
                    ("memberOf", &["cn=ops,ou=groups,dc=x"]),
                ],
                &[],
            )
        };
        for (extra, want) in [("", "ops"), ("group_prefix = \"lab-\"", "lab-ops")] {
            let ol = mapping("openldap", extra);
            assert_eq!(to_record(&user(), &ol, None).unwrap().groups, vec![want]);
            let groups = member_of_groups(&[user()], &ol);
            assert_eq!(groups[0].name, want, "{extra}");
            assert_eq!(groups[0].dn, "cn=ops,ou=groups,dc=x");
            let ol = mapping(
                "openldap",
                &format!("group_base = \"ou=groups,dc=x\"\n{extra}"),
            );
            let index = group_index(
                &[entry(
                    "cn=ops,ou=groups,dc=x",
                    &[("cn", &["ops"]), ("member", &["uid=alice,ou=people,dc=x"])],
                    &[],
                )],
                &ol,
            );
            assert_eq!(index.groups[0].name, want, "{extra}");
            let got = to_record(&user(), &ol, Some(&index.names)).unwrap();
            assert_eq!(got.groups, vec![want], "{extra}");
        }
    }

    #[test]
    fn rdn_values_and_filters() {
        for (dn, want) in [
            ("CN=VC Admins,OU=Groups,DC=corp", Some("VC Admins")),
            ("cn=a\\,b,dc=x", Some("a,b")),
            ("cn=a\\2Cb,dc=x", Some("a,b")),
            ("cn=a+sn=b,dc=x", Some("a")),
            ("not a dn", None),
            ("cn=,dc=x", None),
            ("cn=trailing\\", None),
        ] {
            assert_eq!(first_rdn_value(dn).as_deref(), want, "{dn}");
        }
        let ol = mapping("openldap", "");
        assert_eq!(
            ol.login_filter("*)(uid=*"),
            "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))"
        );
        assert!(ldap3::parse_filter(ol.login_filter("a\\b(c)")).is_ok());
        let ad = mapping("active_directory", "user_filter = \"(objectClass=user)\"");
        assert_eq!(ad.user_filter, "(objectClass=user)");
        assert!(
            ad.user_attributes()
                .contains(&"userAccountControl".to_string())
        );
    }
}
