//! A minimal Chrome DevTools Protocol client for the real-browser tests:
//! start headless Chromium, attach to one page (flat sessions), send
//! commands and wait for their answers. Events are ignored; tests poll.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless Chromium with one page. Dropping it kills the browser.
pub struct Browser {
    ws: Ws,
    session: String,
    next_id: u64,
    child: tokio::process::Child,
    _profile: tollgate::TempDir,
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Starts Chromium, or `None` (after saying so loudly) when it is not
/// installed outside CI. Under `CI=true` a missing browser fails the test.
pub async fn launch() -> Option<Browser> {
    if !std::path::Path::new(CHROMIUM).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{CHROMIUM} is required under CI=true (add `chromium` to .ci/apt-packages)");
        }
        eprintln!("\n*** SKIPPED real-browser test: {CHROMIUM} is not installed ***\n");
        return None;
    }
    let profile = std::env::temp_dir().join(format!(
        "tollgate-chromium-{}",
        tollgate_authz::secret::random_id(8).replace(['-', '_'], "x")
    ));
    std::fs::create_dir_all(&profile).unwrap();
    let mut child = tokio::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=900,1000",
            "--remote-debugging-port=0",
            &format!("--user-data-dir={}", profile.display()),
            "about:blank",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromium");
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(u) = line.split("DevTools listening on ").nth(1) {
                return Some(u.trim().to_string());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("chromium printed its DevTools URL");
    // Keep draining stderr so the browser never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("devtools websocket");
    let mut b = Browser {
        ws,
        session: String::new(),
        next_id: 0,
        child,
        _profile: tollgate::TempDir(profile),
    };
    let target = b
        .call("Target.createTarget", json!({"url": "about:blank"}))
        .await;
    let attached = b
        .call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        )
        .await;
    b.session = attached["sessionId"].as_str().unwrap().to_string();
    b.cmd("Page.enable", json!({})).await;
    b.cmd("Runtime.enable", json!({})).await;
    Some(b)
}

impl Browser {
    async fn send(&mut self, method: &str, params: Value, session: bool) -> Value {
        match self.try_send(method, params, session).await {
            Ok(v) => v,
            Err(e) => panic!("{method} failed: {e}"),
        }
    }

    /// The command's result, or the error CDP answered with.
    async fn try_send(
        &mut self,
        method: &str,
        params: Value,
        session: bool,
    ) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if session {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .expect("send");
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(Ok(m)) = self.ws.next().await {
                if let Message::Text(t) = m {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                    if v["id"] == json!(id) {
                        return v;
                    }
                }
            }
            Value::Null
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {method}"));
        match answer.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(answer["result"].clone()),
        }
    }

    /// A browser-level command.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, false).await
    }

    /// A command to the page.
    pub async fn cmd(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, true).await
    }

    /// Evaluates `expr` in the page (as a user gesture, awaiting promises).
    pub async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .cmd(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true, "awaitPromise": true, "userGesture": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    pub async fn goto(&mut self, url: &str) {
        self.cmd("Page.navigate", json!({"url": url})).await;
        self.wait_for("document.readyState === 'complete'").await;
    }

    /// Polls `cond` until it is true (10 s at most).
    pub async fn wait_for(&mut self, cond: &str) {
        for _ in 0..200 {
            let expr = format!(
                "(() => {{ try {{ return !!({cond}); }} catch (_) {{ return false; }} }})()"
            );
            // A page that is navigating away answers "Inspected target
            // navigated or closed": not yet, ask again.
            let r = self
                .try_send(
                    "Runtime.evaluate",
                    json!({"expression": expr, "returnByValue": true}),
                    true,
                )
                .await;
            if r.is_ok_and(|r| r["result"]["value"] == json!(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = self.eval("location.href").await;
        let body = self
            .eval("document.body ? document.body.innerText : ''")
            .await;
        panic!("timed out waiting for {cond} at {url}: {body}");
    }

    pub async fn url(&mut self) -> String {
        self.eval("location.href")
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Saves a PNG screenshot of the page.
    pub async fn screenshot(&mut self, path: &std::path::Path) {
        let shot = self
            .cmd("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// Adds a CTAP2 virtual authenticator with resident keys and user
    /// verification that answers without a touch.
    pub async fn virtual_authenticator(&mut self) -> String {
        self.cmd("WebAuthn.enable", json!({"enableUI": false}))
            .await;
        let r = self
            .cmd(
                "WebAuthn.addVirtualAuthenticator",
                json!({"options": {
                    "protocol": "ctap2", "transport": "internal",
                    "hasResidentKey": true, "hasUserVerification": true,
                    "isUserVerified": true, "automaticPresenceSimulation": true
                }}),
            )
            .await;
        r["authenticatorId"].as_str().unwrap().to_string()
    }

    /// Closes the browser.
    pub async fn close(mut self) {
        let _ = self.call("Browser.close", json!({})).await;
        let _ = self.child.wait().await;
    }
}
