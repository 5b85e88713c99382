//! OpenLDAP `slapd` for the directory tests: a fresh server per test on a
//! free loopback port, from a generated `slapd.conf` (mdb, the `memberof`
//! overlay) and LDIF loaded online through `ldapadd` (so the overlay
//! maintains `memberOf`). The Active-Directory shape adds a small schema
//! with AD's own OIDs for the attributes the `active_directory` preset
//! reads (`sAMAccountName`, `userPrincipalName`, `userAccountControl`,
//! `objectGUID`) and AD's `user`/`group` classes. Optionally with TLS
//! (`ldaps://`) from a CA made by openssl in the test.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tollgate::{DIRECTORY_PASSWORD, TempDir, have_tool, temp_dir};

/// Which kind of directory the server imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `inetOrgPerson` users, `groupOfNames` groups, `entryUUID`.
    OpenLdap,
    /// AD-shaped users (`user` class, `objectGUID`, `userAccountControl`)
    /// and `group` groups.
    ActiveDirectory,
}

/// The root DN's password (the test edits the directory with it).
const ADMIN_PW: &str = "test-admin-pw";

const AD_SCHEMA: &str = "\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
	EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
	EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
	EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
	EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP top AUXILIARY
	MAY ( sAMAccountName $ userPrincipalName $ userAccountControl $ objectGUID ) )
objectclass ( 1.2.840.113556.1.5.8 NAME 'group' SUP top STRUCTURAL
	MUST cn MAY ( member $ description $ distinguishedName $ sAMAccountName $ objectGUID ) )
objectclass ( 1.2.840.113556.1.3.30 NAME 'computer' SUP top AUXILIARY )
";

/// A running slapd, killed on drop.
pub(crate) struct Slapd {
    child: Option<Child>,
    pub(crate) port: u16,
    /// The `ldaps://` port when started with TLS.
    pub(crate) tls_port: Option<u16>,
    /// `security tls=1`: the plain port answers only StartTLS.
    require_tls: bool,
    pub(crate) shape: Shape,
    dir: TempDir,
}

/// Whether slapd and the OpenLDAP client tools are installed (loud skip,
/// CI failure).
pub(crate) fn have_slapd() -> bool {
    have_tool("/usr/sbin/slapd", "OpenLDAP slapd (Debian slapd)")
        && have_tool("/usr/bin/ldapadd", "OpenLDAP clients (Debian ldap-utils)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl Slapd {
    /// A fresh directory of `shape` with its base entries and service
    /// account (`cn=svc,<suffix>`, password [`DIRECTORY_PASSWORD`]).
    pub(crate) fn start(shape: Shape, tls: bool) -> Slapd {
        Slapd::start_with(shape, tls, false)
    }

    /// With TLS, and `security tls=1`: on the plain `ldap://` port every
    /// operation but StartTLS is refused (`confidentialityRequired`), so a
    /// client that binds there has upgraded the connection. The test's own
    /// edits go over `ldaps://`.
    pub(crate) fn start_requiring_tls(shape: Shape) -> Slapd {
        Slapd::start_with(shape, true, true)
    }

    fn start_with(shape: Shape, tls: bool, require_tls: bool) -> Slapd {
        let dir = temp_dir();
        let d = dir.0.display().to_string();
        std::fs::create_dir_all(dir.0.join("db")).expect("db dir");
        let suffix = suffix(shape);
        let (schema, overlay) = match shape {
            Shape::OpenLdap => (String::new(), "overlay memberof\nmemberof-refint true\n"),
            Shape::ActiveDirectory => {
                std::fs::write(dir.0.join("ad.schema"), AD_SCHEMA).expect("schema");
                (
                    format!("include {d}/ad.schema\n"),
                    "overlay memberof\nmemberof-group-oc group\nmemberof-refint true\n",
                )
            }
        };
        let tls_conf = if tls {
            crate::tls_front::test_certs(&dir.0);
            let security = if require_tls { "security tls=1\n" } else { "" };
            format!(
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/srv.pem\nTLSCertificateKeyFile {d}/srv.key\n{security}"
            )
        } else {
            String::new()
        };
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             {schema}\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload memberof\n\
             pidfile {d}/slapd.pid\n{tls_conf}\
             access to attrs=userPassword by anonymous auth by self write by * none\n\
             access to * by users read by * none\n\
             database mdb\nsuffix \"{suffix}\"\nrootdn \"cn=admin,{suffix}\"\nrootpw {ADMIN_PW}\n\
             directory {d}/db\nmaxsize 104857600\n{overlay}"
        );
        std::fs::write(dir.0.join("slapd.conf"), conf).expect("slapd.conf");
        let mut s = Slapd {
            child: None,
            port: free_port(),
            tls_port: tls.then(free_port),
            require_tls,
            shape,
            dir,
        };
        s.run();
        s.add(&base_ldif(shape));
        s
    }

    /// The `ldap://` URL.
    pub(crate) fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The test CA's certificate (with TLS).
    pub(crate) fn ca_file(&self) -> PathBuf {
        self.dir.0.join("ca.pem")
    }

    pub(crate) fn suffix(&self) -> &'static str {
        suffix(self.shape)
    }

    fn run(&mut self) {
        let mut urls = self.url();
        if let Some(p) = self.tls_port {
            urls.push_str(&format!(" ldaps://127.0.0.1:{p}"));
        }
        let child = Command::new("/usr/sbin/slapd")
            .args(["-d", "0", "-h", &urls, "-f"])
            .arg(self.dir.0.join("slapd.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.0.join("slapd.log")).expect("slapd.log"))
            .spawn()
            .expect("spawn slapd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                let err = std::fs::read_to_string(self.dir.0.join("slapd.log")).unwrap_or_default();
                panic!("slapd exited ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "slapd did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (the directory is down); [`Slapd::resume`] starts it
    /// again on the same port with the same data.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn resume(&mut self) {
        self.run();
    }

    /// Runs `ldapmodify` as the root DN with `ldif` (`changetype:` records;
    /// plain entries with `-a`).
    fn ldap_tool(&self, ldif: &str, add: bool) {
        let mut cmd = Command::new("/usr/bin/ldapmodify");
        if add {
            cmd.arg("-a");
        }
        let url = match self.tls_port {
            Some(p) if self.require_tls => {
                cmd.env("LDAPTLS_CACERT", self.ca_file());
                format!("ldaps://127.0.0.1:{p}")
            }
            _ => self.url(),
        };
        let mut child = cmd
            .args(["-x", "-H", &url, "-D"])
            .arg(format!("cn=admin,{}", self.suffix()))
            .args(["-w", ADMIN_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ldapmodify");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ldif.as_bytes())
            .expect("write ldif");
        let out = child.wait_with_output().expect("ldapmodify");
        assert!(
            out.status.success(),
            "ldapmodify: {}\n{ldif}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Adds entries.
    pub(crate) fn add(&self, ldif: &str) {
        self.ldap_tool(ldif, true)
    }

    /// Applies `changetype:` records (modify, delete).
    pub(crate) fn modify(&self, ldif: &str) {
        self.ldap_tool(ldif, false)
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn suffix(shape: Shape) -> &'static str {
    match shape {
        Shape::OpenLdap => "dc=example,dc=org",
        Shape::ActiveDirectory => "dc=corp,dc=example",
    }
}

fn base_ldif(shape: Shape) -> String {
    let s = suffix(shape);
    let dc = s
        .split(',')
        .next()
        .and_then(|r| r.strip_prefix("dc="))
        .unwrap_or("x");
    format!(
        "dn: {s}\nobjectClass: dcObject\nobjectClass: organization\ndc: {dc}\no: {dc}\n\n\
         dn: ou=people,{s}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{s}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: cn=svc,{s}\nobjectClass: person\ncn: svc\nsn: service\nuserPassword: {DIRECTORY_PASSWORD}\n"
    )
}

/// An OpenLDAP-shaped user under `ou=people`.
pub(crate) fn openldap_user(login: &str, password: &str) -> String {
    format!(
        "dn: uid={login},ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: {login}\n\
         cn: {login} Example\nsn: Example\nmail: {login}@example.org\nuserPassword: {password}\n\n"
    )
}

/// A `groupOfNames` under `ou=groups` with `members` (logins).
pub(crate) fn openldap_group(name: &str, members: &[&str]) -> String {
    let mut out = format!(
        "dn: cn={name},ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: {name}\n"
    );
    for m in members {
        out.push_str(&format!("member: uid={m},ou=people,dc=example,dc=org\n"));
    }
    out.push('\n');
    out
}

/// An AD-shaped user: `sAMAccountName`, `userPrincipalName`,
/// `userAccountControl` 512 (normal account), `objectGUID` from `guid`.
pub(crate) fn ad_user(login: &str, password: &str, guid: [u8; 16]) -> String {
    use base64::Engine;
    let g = base64::engine::general_purpose::STANDARD.encode(guid);
    format!(
        "dn: cn={login},ou=people,dc=corp,dc=example\nobjectClass: inetOrgPerson\nobjectClass: user\n\
         cn: {login}\nsn: Example\ndisplayName: {login} Example\nsAMAccountName: {login}\n\
         userPrincipalName: {login}@corp.example\nuserAccountControl: 512\nobjectGUID:: {g}\n\
         userPassword: {password}\n\n"
    )
}

/// An AD `group` under `ou=groups` with `members` (logins).
pub(crate) fn ad_group(name: &str, members: &[&str]) -> String {
    let mut out =
        format!("dn: cn={name},ou=groups,dc=corp,dc=example\nobjectClass: group\ncn: {name}\n");
    for m in members {
        out.push_str(&format!("member: cn={m},ou=people,dc=corp,dc=example\n"));
    }
    out.push('\n');
    out
}
