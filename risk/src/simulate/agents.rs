//! User agents the simulator hands out: current desktop and mobile
//! browsers plus the browsers of Kylin and UOS, with a version that
//! browser upgrades bump.

use rand::Rng;

/// A browser build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    /// Chrome on Windows.
    ChromeWindows,
    /// Edge on Windows.
    EdgeWindows,
    /// Firefox on Windows.
    FirefoxWindows,
    /// Chrome on macOS.
    ChromeMac,
    /// Safari on macOS.
    SafariMac,
    /// Safari on iPhone.
    SafariIphone,
    /// Chrome on Android.
    ChromeAndroid,
    /// Qianxin browser on Kylin.
    QaxKylin,
    /// UOS browser on UOS.
    UosBrowser,
    /// Firefox on Kylin.
    FirefoxKylin,
}

use Browser::*;

/// Desktop builds, weighted towards what a Chinese enterprise runs.
pub const DESKTOP: &[Browser] = &[
    ChromeWindows,
    ChromeWindows,
    ChromeWindows,
    EdgeWindows,
    EdgeWindows,
    FirefoxWindows,
    ChromeMac,
    SafariMac,
    QaxKylin,
    UosBrowser,
    FirefoxKylin,
];
/// Phone builds.
pub const PHONE: &[Browser] = &[SafariIphone, ChromeAndroid, ChromeAndroid];

/// A concrete user agent: build + major version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agent {
    /// Build.
    pub browser: Browser,
    /// Major version.
    pub version: u32,
}

impl Agent {
    /// A random current agent of the given builds.
    pub fn random(builds: &[Browser], rng: &mut impl Rng) -> Self {
        let browser = builds[rng.gen_range(0..builds.len())];
        let version = match browser {
            SafariMac | SafariIphone => rng.gen_range(16..=18),
            FirefoxWindows | FirefoxKylin => rng.gen_range(115..=134),
            QaxKylin => rng.gen_range(1..=2),
            UosBrowser => rng.gen_range(5..=6),
            _ => rng.gen_range(118..=131),
        };
        Agent { browser, version }
    }

    /// Whether this build runs on a phone.
    pub fn is_phone(&self) -> bool {
        matches!(self.browser, SafariIphone | ChromeAndroid)
    }

    /// Days between major releases (browser upgrade cadence).
    pub fn release_days(&self) -> u32 {
        match self.browser {
            SafariMac | SafariIphone => 365,
            QaxKylin | UosBrowser => 180,
            _ => 30,
        }
    }

    /// The `User-Agent` header.
    pub fn render(&self) -> String {
        let v = self.version;
        let chrome = 100 + v % 40;
        match self.browser {
            ChromeWindows => format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
            ),
            EdgeWindows => format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.2903.86"
            ),
            FirefoxWindows => format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
            ),
            ChromeMac => format!(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
            ),
            SafariMac => format!(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.1 Safari/605.1.15"
            ),
            SafariIphone => format!(
                "Mozilla/5.0 (iPhone; CPU iPhone OS {v}_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.1 Mobile/15E148 Safari/604.1"
            ),
            ChromeAndroid => format!(
                "Mozilla/5.0 (Linux; Android 14; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36"
            ),
            QaxKylin => format!(
                "Mozilla/5.0 (X11; Linux aarch64; Kylin) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36 QaxBrowser/{v}.1.32574"
            ),
            UosBrowser => format!(
                "Mozilla/5.0 (X11; UOS; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36 UOSBrowser/{v}.2.0"
            ),
            FirefoxKylin => format!(
                "Mozilla/5.0 (X11; Linux loongarch64; Kylin V10 SP1) Gecko/20100101 Firefox/{v}.0"
            ),
        }
    }
}
