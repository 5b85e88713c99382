//! User-agent parsing into the levels the model smooths over:
//! browser family + major version → browser family → OS family → device type.
//!
//! A small hand-written parser rather than a regex database: it must run in
//! well under a microsecond on the scoring path and only needs the
//! families that matter for novelty, including the browsers shipped on the
//! domestic operating systems Kylin (银河麒麟) and UOS (统信). Anything it
//! does not recognise becomes family `Other`, which is still a value the
//! model can learn, never an error.

/// Coarse form factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceType {
    /// Desktop or laptop.
    Desktop,
    /// Phone.
    Mobile,
    /// Tablet.
    Tablet,
    /// Scripts, crawlers and HTTP libraries.
    Bot,
}

impl DeviceType {
    /// Lower-case name used in reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Desktop => "desktop",
            DeviceType::Mobile => "mobile",
            DeviceType::Tablet => "tablet",
            DeviceType::Bot => "bot",
        }
    }
}

/// The parsed user agent. All names are static, so parsing allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserAgent {
    /// Browser family, e.g. `Chrome`, `Edge`, `UOS Browser`.
    pub browser: &'static str,
    /// Browser major version, 0 when unknown.
    pub browser_major: u32,
    /// OS family, e.g. `Windows`, `Kylin`.
    pub os: &'static str,
    /// OS major version, 0 when unknown (Windows NT 10.0 → 10).
    pub os_major: u32,
    /// Form factor.
    pub device: DeviceType,
}

/// The number right after `token` (e.g. `Chrome/` → 131).
fn version_after(ua: &str, token: &str) -> Option<u32> {
    let start = ua.find(token)? + token.len();
    let digits: &str = &ua[start..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

const BROWSERS: &[(&str, &str)] = &[
    ("UOSBrowser/", "UOS Browser"),
    ("uos-browser/", "UOS Browser"),
    ("QaxBrowser/", "Qianxin Browser"),
    ("KylinBrowser/", "Kylin Browser"),
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex"),
    ("MicroMessenger/", "WeChat"),
    ("QQBrowser/", "QQ Browser"),
    ("UCBrowser/", "UC Browser"),
    ("360SE", "360 Browser"),
    ("360EE", "360 Browser"),
    ("Vivaldi/", "Vivaldi"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
];

const TOOLS: &[&str] = &[
    "curl/",
    "Wget/",
    "python-requests/",
    "python-urllib",
    "Go-http-client/",
    "okhttp/",
    "Java/",
    "libwww-perl",
    "HeadlessChrome",
    "PhantomJS",
    "bot",
    "Bot",
    "spider",
    "crawler",
];

fn browser(ua: &str) -> (&'static str, u32) {
    for &(token, name) in BROWSERS {
        if ua.contains(token) {
            return (name, version_after(ua, token).unwrap_or(0));
        }
    }
    if ua.contains("Safari/") && ua.contains("Version/") {
        return ("Safari", version_after(ua, "Version/").unwrap_or(0));
    }
    if ua.contains("Trident/") || ua.contains("MSIE ") {
        return (
            "Internet Explorer",
            version_after(ua, "MSIE ").unwrap_or(11),
        );
    }
    ("Other", 0)
}

fn os(ua: &str) -> (&'static str, u32) {
    if ua.contains("Kylin") || ua.contains("kylin") {
        ("Kylin", 0)
    } else if ua.contains("UOS")
        || ua.contains("UnionTech")
        || ua.contains("deepin")
        || ua.contains("Deepin")
    {
        ("UOS", 0)
    } else if ua.contains("Windows NT") {
        ("Windows", version_after(ua, "Windows NT ").unwrap_or(0))
    } else if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        ("iOS", version_after(ua, "OS ").unwrap_or(0))
    } else if ua.contains("Android") {
        ("Android", version_after(ua, "Android ").unwrap_or(0))
    } else if ua.contains("Mac OS X") {
        ("macOS", version_after(ua, "Mac OS X ").unwrap_or(0))
    } else if ua.contains("CrOS") {
        ("ChromeOS", 0)
    } else if ua.contains("HarmonyOS") || ua.contains("OpenHarmony") {
        ("HarmonyOS", 0)
    } else if ua.contains("Linux") || ua.contains("X11") {
        ("Linux", 0)
    } else {
        ("Other", 0)
    }
}

fn device(ua: &str, os: &str, browser: &str) -> DeviceType {
    if browser == "Other" && TOOLS.iter().any(|t| ua.contains(t)) {
        DeviceType::Bot
    } else if ua.contains("iPad")
        || ua.contains("Tablet")
        || (os == "Android" && !ua.contains("Mobile"))
    {
        DeviceType::Tablet
    } else if ua.contains("Mobile") || ua.contains("iPhone") {
        DeviceType::Mobile
    } else {
        DeviceType::Desktop
    }
}

impl UserAgent {
    /// Parses a raw `User-Agent` header; never fails.
    pub fn parse(ua: &str) -> Self {
        let (browser, browser_major) = browser(ua);
        let (os, os_major) = os(ua);
        let device = device(ua, os, browser);
        UserAgent {
            browser,
            browser_major,
            os,
            os_major,
            device,
        }
    }

    /// "Chrome 131 on Windows 10 (desktop)".
    pub fn describe(&self) -> String {
        let bv = if self.browser_major > 0 {
            format!(" {}", self.browser_major)
        } else {
            String::new()
        };
        let ov = if self.os_major > 0 {
            format!(" {}", self.os_major)
        } else {
            String::new()
        };
        format!(
            "{}{bv} on {}{ov} ({})",
            self.browser,
            self.os,
            self.device.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ua: &str, expected: (&str, u32, &str, u32, DeviceType)) {
        let p = UserAgent::parse(ua);
        assert_eq!(
            (p.browser, p.browser_major, p.os, p.os_major, p.device),
            expected,
            "{ua}"
        );
    }

    #[test]
    fn parses_current_browsers_and_domestic_os_browsers() {
        use DeviceType::*;
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            ("Chrome", 131, "Windows", 10, Desktop),
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
            ("Edge", 131, "Windows", 10, Desktop),
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
            ("Firefox", 133, "macOS", 10, Desktop),
        );
        check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0",
            ("Firefox", 134, "Linux", 0, Desktop),
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15",
            ("Safari", 18, "macOS", 10, Desktop),
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1",
            ("Safari", 18, "iOS", 18, Mobile),
        );
        check(
            "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            ("Chrome", 131, "iOS", 17, Tablet),
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
            ("Chrome", 131, "Android", 14, Mobile),
        );
        check(
            "Mozilla/5.0 (X11; Linux aarch64; Kylin) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.5359.125 Safari/537.36 QaxBrowser/1.1.32574",
            ("Qianxin Browser", 1, "Kylin", 0, Desktop),
        );
        check(
            "Mozilla/5.0 (X11; Linux loongarch64; Kylin V10 SP1) Gecko/20100101 Firefox/115.0",
            ("Firefox", 115, "Kylin", 0, Desktop),
        );
        check(
            "Mozilla/5.0 (X11; UOS; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.5993.159 Safari/537.36 UOSBrowser/6.2.0",
            ("UOS Browser", 6, "UOS", 0, Desktop),
        );
        check(
            "Mozilla/5.0 (X11; Linux mips64; UnionTech OS Desktop 20) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/101.0.4951.64 Safari/537.36",
            ("Chrome", 101, "UOS", 0, Desktop),
        );
        check("python-requests/2.32.3", ("Other", 0, "Other", 0, Bot));
        check("", ("Other", 0, "Other", 0, Desktop));
    }

    #[test]
    fn describes_for_humans() {
        let ua = UserAgent::parse(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        );
        assert_eq!(ua.describe(), "Chrome 131 on Windows 10 (desktop)");
    }
}
