//! Time rules for Signature Version 2, which s3s verifies without looking at the clock
//! (boto3 still presigns with it by default): a header-signed request's `x-amz-date` (or
//! `Date`) must be within [`MAX_SKEW_SECS`] of the server clock (`RequestTimeTooSkewed`,
//! 403; missing or unreadable: `AccessDenied`, as AWS), and a presigned URL's `Expires`
//! at most [`MAX_PRESIGN_SECS`] ahead (`AuthorizationQueryParametersError`, 400). s3s
//! refuses an `Expires` already past. SigV4 gets the same rules from s3s and `guard`.

use crate::guard::{MAX_PRESIGN_SECS, Refusal};
use axum::http::{HeaderMap, StatusCode};

/// How far a signed request's time may be from the server clock: 15 minutes, as AWS.
pub const MAX_SKEW_SECS: i64 = 900;

/// Days from 1970-01-01 to `y-m-d` (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn unix(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let ok = (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..=60).contains(&s);
    ok.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Seconds since the epoch of an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) or an ISO
/// 8601 basic time (`19941106T084937Z`).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |t: &str| t.parse::<i64>().ok();
    if let Some(basic) = s.strip_suffix('Z')
        && basic.len() == 15
        && basic.as_bytes()[8] == b'T'
    {
        let (d, t) = (&basic[..8], &basic[9..]);
        return unix(
            num(&d[..4])?,
            num(&d[4..6])?,
            num(&d[6..])?,
            num(&t[..2])?,
            num(&t[2..4])?,
            num(&t[4..])?,
        );
    }
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, hms, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mo = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let mut t = hms.split(':');
    let (h, mi, sec) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    unix(num(year)?, mo, num(day)?, h, mi, sec)
}

/// Checks a SigV2 header-signed request's time against `now` (seconds since the epoch).
pub fn check_header(h: &HeaderMap, now: i64) -> Result<(), Refusal> {
    let date = h
        .get("x-amz-date")
        .or_else(|| h.get(axum::http::header::DATE))
        .and_then(|v| v.to_str().ok());
    let Some(t) = date.and_then(parse_time) else {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
        ));
    };
    if (now - t).abs() > MAX_SKEW_SECS {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        ));
    }
    Ok(())
}

/// Checks a SigV2 presigned URL's `Expires` (seconds since the epoch) against `now`.
pub fn check_expires(expires: Option<&str>, now: i64) -> Result<(), Refusal> {
    let bad = |m: &str| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            m.to_owned(),
        )
    };
    let Some(at) = expires.and_then(|e| e.parse::<i64>().ok()) else {
        return Err(bad("Expires must be a number of seconds since the epoch"));
    };
    if at - now > MAX_PRESIGN_SECS as i64 {
        return Err(bad(&format!(
            "Expires must be at most a week ({MAX_PRESIGN_SECS} seconds) in the future"
        )));
    }
    Ok(())
}

/// The server clock in seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_iso_dates_parse() {
        assert_eq!(
            parse_time("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_time("19941106T084937Z"), Some(784_111_777));
        assert_eq!(parse_time("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_time("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(1_835_481_599)
        );
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "19941306T084937Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn header_times_must_be_within_fifteen_minutes() {
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        let at = |name: &str, v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
            check_header(&h, now).map_err(|e| e.code())
        };
        assert_eq!(at("date", "Sun, 06 Nov 1994 08:49:37 GMT"), Ok(()));
        assert_eq!(at("date", "Sun, 06 Nov 1994 08:34:37 GMT"), Ok(()));
        assert_eq!(at("x-amz-date", "19941106T090437Z"), Ok(()));
        assert_eq!(
            at("date", "Sun, 06 Nov 1994 08:34:36 GMT"),
            Err("RequestTimeTooSkewed")
        );
        assert_eq!(
            at("x-amz-date", "19941106T090438Z"),
            Err("RequestTimeTooSkewed")
        );
        assert_eq!(
            at("date", "Sat, 06 Nov 1993 08:49:37 GMT"),
            Err("RequestTimeTooSkewed")
        );
        assert_eq!(at("date", "soon"), Err("AccessDenied"));
        assert_eq!(
            check_header(&HeaderMap::new(), now).unwrap_err().code(),
            "AccessDenied"
        );
    }

    #[test]
    fn presigned_expiry_is_at_most_a_week_ahead() {
        let now = 1_800_000_000;
        assert!(check_expires(Some("1800604800"), now).is_ok());
        for bad in [Some("1800604801"), Some("abc"), None] {
            assert_eq!(
                check_expires(bad, now).unwrap_err().code(),
                "AuthorizationQueryParametersError"
            );
        }
    }
}
