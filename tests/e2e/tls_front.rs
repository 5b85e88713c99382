//! An HTTPS front for a test server: nginx from Debian terminating TLS
//! with a certificate from a throw-away CA made by the `openssl` command,
//! proxying to the server's plain-HTTP loopback address. The agent's
//! production path (https:// with certificate verification against a
//! private CA file) is then tested as it runs in the field.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tollgate::{TempDir, have_tool, temp_dir};

pub(crate) const NGINX: &str = "/usr/sbin/nginx";

pub(crate) struct TlsFront {
    child: Child,
    /// `https://127.0.0.1:PORT`
    pub url: String,
    /// The CA certificate (PEM) that signed the front's certificate.
    pub ca: PathBuf,
    _dir: TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throw-away CA (`ca.pem`, `ca.key`) and a server certificate for
/// 127.0.0.1 it signed (`srv.pem`, `srv.key`), P-256, made in `d` by the
/// `openssl` command.
pub(crate) fn test_certs(d: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        d,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=tollgate e2e CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat(),
    );
    openssl(
        d,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "srv.key",
                "-out",
                "srv.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

impl TlsFront {
    /// Whether nginx and openssl are installed (loud skip, CI failure).
    pub(crate) fn available() -> bool {
        have_tool(NGINX, "nginx") && have_tool("/usr/bin/openssl", "openssl")
    }

    /// Starts the front for `upstream` (`127.0.0.1:PORT`).
    pub(crate) fn start(upstream: &str) -> TlsFront {
        let dir = temp_dir();
        let d = dir.0.as_path();
        test_certs(d);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let p = d.display();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {p}/body;
  proxy_temp_path {p}/proxy;
  fastcgi_temp_path {p}/fastcgi;
  uwsgi_temp_path {p}/uwsgi;
  scgi_temp_path {p}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {p}/srv.pem;
    ssl_certificate_key {p}/srv.key;
    location / {{
      proxy_pass http://{upstream};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
"#
        );
        std::fs::write(d.join("nginx.conf"), conf).expect("nginx.conf");
        let child = Command::new(NGINX)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-p")
            .arg(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsFront {
            child,
            url: format!("https://127.0.0.1:{port}"),
            ca: d.join("ca.pem"),
            _dir: dir,
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
