//! Impossible travel: the speed needed to get from the user's last
//! successful login to this one.
//!
//! Distances are great-circle (haversine, mean Earth radius 6371.0088 km).
//! Both positions are uncertain by their accuracy radii, so the distance
//! that must have been covered is the centre distance minus both radii;
//! moves shorter than a minimum distance are ignored because geolocation
//! of mobile and corporate networks routinely jumps that far.

/// Mean Earth radius in km (IUGG).
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km between two (lat, lon) points in degrees.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A located login: position, its accuracy radius and when it happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Accuracy radius, km.
    pub accuracy_km: f64,
    /// Unix seconds.
    pub at: i64,
}

/// The travel between two fixes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Travel {
    /// Distance that must have been covered, km (after radii), ≥ 0.
    pub km: f64,
    /// Elapsed time, seconds (≥ 0; out-of-order events count as 0).
    pub seconds: i64,
    /// Required speed, km/h; 0 when the move is below the minimum distance.
    pub kmh: f64,
}

/// Shortest elapsed time used for the speed, so two logins in the same
/// second give a large but finite speed.
const MIN_SECONDS: f64 = 60.0;

/// Travel from `from` to `to`, ignoring moves within the accuracy radii and
/// below `min_km`.
pub fn travel(from: Fix, to: Fix, min_km: f64) -> Travel {
    let centre = haversine_km((from.lat, from.lon), (to.lat, to.lon));
    let km = (centre - from.accuracy_km - to.accuracy_km).max(0.0);
    let seconds = (to.at - from.at).max(0);
    let kmh = if km < min_km {
        0.0
    } else {
        km / ((seconds as f64).max(MIN_SECONDS) / 3600.0)
    };
    Travel { km, seconds, kmh }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEIJING: (f64, f64) = (39.9042, 116.4074);
    const SHANGHAI: (f64, f64) = (31.2304, 121.4737);
    const FRANKFURT: (f64, f64) = (50.1109, 8.6821);

    fn fix(p: (f64, f64), acc: f64, at: i64) -> Fix {
        Fix {
            lat: p.0,
            lon: p.1,
            accuracy_km: acc,
            at,
        }
    }

    fn check(from: Fix, to: Fix, min_km: f64, expected_kmh: f64, tolerance: f64) {
        let t = travel(from, to, min_km);
        assert!(
            (t.kmh - expected_kmh).abs() <= tolerance,
            "{from:?} -> {to:?}: {t:?}, want {expected_kmh}"
        );
    }

    #[test]
    fn haversine_matches_published_distances() {
        // Beijing–Shanghai ≈ 1067 km, Beijing–Frankfurt ≈ 7790 km.
        assert!((haversine_km(BEIJING, SHANGHAI) - 1067.0).abs() < 5.0);
        assert!((haversine_km(BEIJING, FRANKFURT) - 7790.0).abs() < 20.0);
        assert_eq!(haversine_km(BEIJING, BEIJING), 0.0);
    }

    #[test]
    fn travel_speeds() {
        // 7790 km in 40 min ≈ 11 685 km/h.
        check(
            fix(BEIJING, 0.0, 0),
            fix(FRANKFURT, 0.0, 2400),
            100.0,
            11_685.0,
            40.0,
        );
        // Beijing→Shanghai in 2 h by plane ≈ 533 km/h, below Okta's 805.
        check(
            fix(BEIJING, 0.0, 0),
            fix(SHANGHAI, 0.0, 7200),
            100.0,
            533.5,
            3.0,
        );
        // Radii of 500 km each shrink the 1067 km to 67 km: below the minimum.
        check(
            fix(BEIJING, 500.0, 0),
            fix(SHANGHAI, 500.0, 60),
            100.0,
            0.0,
            0.0,
        );
        // Same instant: elapsed time floored at one minute.
        check(
            fix(BEIJING, 0.0, 0),
            fix(SHANGHAI, 0.0, 0),
            100.0,
            64_020.0,
            300.0,
        );
        // Out of order: treated as zero elapsed, not negative.
        check(
            fix(BEIJING, 0.0, 100),
            fix(SHANGHAI, 0.0, 0),
            100.0,
            64_020.0,
            300.0,
        );
    }
}
