//! Request paths at the door: the naming rules enforced on the raw URI (before dav-server,
//! which would silently resolve `..`), the home path of a request, macOS metadata names.

use nas_types::NasPath;

/// macOS metadata files (`._name` resource forks, `.DS_Store`): answered without touching
/// the store — GET/HEAD/PROPFIND say 404, PUT is accepted and discarded, DELETE succeeds.
pub fn macos_noise(path: &str) -> bool {
    let name = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    name.starts_with("._") || name == ".DS_Store"
}

/// Enforces the path rules on the raw request path, before dav-server (which would
/// silently resolve `..` and `.`): every percent-decoded segment must be UTF-8, non-empty
/// (a trailing `/` is fine), not `.` or `..`, without NUL or `/`; the whole path must pass
/// `NasPath`. Anything else is a 400, never a 5xx and never a path outside the home.
pub fn check_uri_path(raw: &str) -> Result<(), &'static str> {
    let rest = raw.strip_prefix("/dav").ok_or("not a WebDAV path")?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(());
    }
    let mut decoded = String::new();
    for seg in rest.split('/') {
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(seg).collect();
        let s = String::from_utf8(bytes).map_err(|_| "path is not UTF-8")?;
        if s.is_empty() {
            return Err("empty path segment");
        }
        if s == "." || s == ".." {
            return Err("'.' and '..' are not allowed in paths");
        }
        if s.contains(['/', '\0']) {
            return Err("encoded '/' or NUL in a path segment");
        }
        decoded.push('/');
        decoded.push_str(&s);
    }
    NasPath::parse(&decoded)
        .map(|_| ())
        .map_err(|_| "path breaks the naming rules")
}

/// The home path of a `/dav/...` request path (percent-decoded).
pub fn dav_path(uri_path: &str) -> Option<NasPath> {
    let rest = uri_path.strip_prefix("/dav")?;
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()?;
    NasPath::parse(&decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_follow_the_naming_rules() {
        for ok in [
            "/dav",
            "/dav/",
            "/dav/a/b",
            "/dav/a%20b/",
            "/dav/caf%C3%A9",
            "/dav/%F0%9F%98%80",
        ] {
            assert!(check_uri_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/dav/../x",
            "/dav/%2e%2e/x",
            "/dav/a//b",
            "/dav/./a",
            "/dav/a%2fb",
            "/dav/a%00b",
            "/dav/%c0%ae",
            "/other",
        ] {
            assert!(check_uri_path(bad).is_err(), "{bad}");
        }
        assert_eq!(dav_path("/dav/a%20b").unwrap().as_str(), "/a b");
        assert!(
            macos_noise("/dav/x/._photo.jpg")
                && macos_noise("/dav/.DS_Store/")
                && !macos_noise("/dav/a._b")
        );
    }
}
