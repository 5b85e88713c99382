//! The held-out generator's browsers: its own catalogue and its own
//! `User-Agent` spellings (other builds, other OS versions, in-app
//! browsers), with a staggered automatic-update model.

use rand::Rng;

/// What a browser runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// The company laptop.
    WorkLaptop,
    /// The computer at home.
    HomePc,
    /// The phone.
    Phone,
}

/// A browser build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Chrome on Windows 11.
    ChromeWin,
    /// Edge on Windows 11.
    EdgeWin,
    /// Firefox on Windows.
    FirefoxWin,
    /// 360 Secure Browser on Windows.
    Se360Win,
    /// Chrome on macOS.
    ChromeMac,
    /// Firefox on macOS.
    FirefoxMac,
    /// Safari on macOS.
    SafariMac,
    /// Chromium on Kylin.
    ChromiumKylin,
    /// Qianxin browser on UOS.
    QaxUos,
    /// Safari on iPhone.
    SafariIos,
    /// WeChat's in-app browser on iPhone.
    WeChatIos,
    /// Chrome on Android.
    ChromeAndroid,
    /// Samsung Internet.
    SamsungAndroid,
    /// WeChat's in-app browser on Android.
    WeChatAndroid,
}

use Build::*;

/// Builds for a machine, with their weights.
pub fn builds_for(machine: Machine) -> &'static [(Build, u32)] {
    match machine {
        Machine::WorkLaptop => &[
            (ChromeWin, 5),
            (EdgeWin, 4),
            (FirefoxWin, 1),
            (ChromeMac, 2),
            (ChromiumKylin, 2),
            (QaxUos, 2),
        ],
        Machine::HomePc => &[
            (ChromeWin, 4),
            (Se360Win, 2),
            (FirefoxWin, 1),
            (ChromeMac, 2),
            (FirefoxMac, 1),
            (SafariMac, 2),
        ],
        Machine::Phone => &[
            (SafariIos, 4),
            (WeChatIos, 2),
            (ChromeAndroid, 3),
            (SamsungAndroid, 1),
            (WeChatAndroid, 2),
        ],
    }
}

/// One installed browser: its build and its current major version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    /// Build.
    pub build: Build,
    /// Major version.
    pub major: u32,
    /// OS version (minor for macOS/iOS, Android major).
    pub os: u32,
}

fn weighted<T: Copy>(items: &[(T, u32)], rng: &mut impl Rng) -> T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut r = rng.gen_range(0..total.max(1));
    for &(v, w) in items {
        if r < w {
            return v;
        }
        r -= w;
    }
    items[0].0
}

impl Installed {
    /// A random build for `machine`, at a current version.
    pub fn random(machine: Machine, rng: &mut impl Rng) -> Self {
        let build = weighted(builds_for(machine), rng);
        Installed::of(build, rng)
    }

    /// `build` at a current version.
    pub fn of(build: Build, rng: &mut impl Rng) -> Self {
        let major = match build {
            SafariMac | SafariIos => rng.gen_range(17..=18),
            FirefoxWin | FirefoxMac => rng.gen_range(128..=133),
            Se360Win => rng.gen_range(13..=15),
            QaxUos => rng.gen_range(1..=2),
            WeChatIos | WeChatAndroid => rng.gen_range(8..=8),
            SamsungAndroid => rng.gen_range(25..=27),
            _ => rng.gen_range(126..=132),
        };
        let os = match build {
            SafariIos | WeChatIos => rng.gen_range(17..=18),
            ChromeAndroid | SamsungAndroid | WeChatAndroid => rng.gen_range(12..=15),
            _ => rng.gen_range(0..=3),
        };
        Installed { build, major, os }
    }

    /// Days between automatic major updates.
    pub fn cadence_days(&self) -> u32 {
        match self.build {
            SafariMac | SafariIos => 180,
            WeChatIos | WeChatAndroid => 120,
            QaxUos | Se360Win => 90,
            _ => 28,
        }
    }

    /// The `User-Agent` header.
    pub fn header(&self) -> String {
        let (v, os) = (self.major, self.os);
        match self.build {
            ChromeWin => format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.6478.{} Safari/537.36",
                60 + os
            ),
            EdgeWin => format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.2592.{}",
                50 + os
            ),
            FirefoxWin => format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
            ),
            Se360Win => format!(
                "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.5359.125 Safari/537.36 QIHU 360SE/{v}.1.1862.0"
            ),
            ChromeMac => format!(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
            ),
            FirefoxMac => format!(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.{os}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
            ),
            SafariMac => format!(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.{os} Safari/605.1.15"
            ),
            ChromiumKylin => format!(
                "Mozilla/5.0 (X11; Kylin; Linux aarch64) AppleWebKit/537.36 (KHTML, like Gecko) Chromium/{v}.0.0.0 Chrome/{v}.0.0.0 Safari/537.36"
            ),
            QaxUos => format!(
                "Mozilla/5.0 (X11; Linux x86_64; UnionTech OS Desktop 20) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 Safari/537.36 QaxBrowser/{v}.0.31016"
            ),
            SafariIos => format!(
                "Mozilla/5.0 (iPhone; CPU iPhone OS {os}_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.5 Mobile/15E148 Safari/604.1"
            ),
            WeChatIos => format!(
                "Mozilla/5.0 (iPhone; CPU iPhone OS {os}_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/{v}.0.50(0x18003237) NetType/WIFI Language/zh_CN"
            ),
            ChromeAndroid => format!(
                "Mozilla/5.0 (Linux; Android {os}; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.6478.71 Mobile Safari/537.36"
            ),
            SamsungAndroid => format!(
                "Mozilla/5.0 (Linux; Android {os}; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{v}.0 Chrome/121.0.0.0 Mobile Safari/537.36"
            ),
            WeChatAndroid => format!(
                "Mozilla/5.0 (Linux; Android {os}; V2309A Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.120 Mobile Safari/537.36 XWEB/1220099 MicroMessenger/{v}.0.49.2600(0x28003133) WeChat/arm64 Weixin NetType/5G Language/zh_CN"
            ),
        }
    }
}

/// User agents of attack tooling: an HTTP library, a headless browser, or
/// a plausible desktop browser copied from a list.
pub fn attacker_header(rng: &mut impl Rng) -> String {
    match rng.gen_range(0..10) {
        0 => "python-httpx/0.27.0".to_owned(),
        1 => "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36".to_owned(),
        2 => "okhttp/4.12.0".to_owned(),
        _ => {
            let machine = if rng.gen_bool(0.3) {
                Machine::Phone
            } else {
                Machine::HomePc
            };
            Installed::random(machine, rng).header()
        }
    }
}
