//! The embedded assets: each file of `crates/web/assets/` with its content type, its
//! ETag (a BLAKE3 prefix of its bytes) and, when that is smaller, a zstd-compressed copy
//! made once at start. The build id (a hash over every asset) names the asset folder
//! `/assets/<build>/`, so a new binary's assets never meet an old cache entry.

use std::sync::LazyLock;

/// One embedded file.
pub struct Asset {
    /// Path below `/assets/<build>/`.
    pub name: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The bytes as written in `assets/` (the page: with the build id filled in).
    pub raw: Vec<u8>,
    /// zstd of `raw`, when smaller.
    pub zstd: Option<Vec<u8>>,
    /// Strong ETag of `raw` (quoted); the zstd copy's is this with `-z` appended.
    pub etag: String,
}

/// Every asset, and the page.
pub struct Table {
    /// Hash of every asset's bytes (16 hex digits).
    pub build: String,
    /// The page at `/` (`index.html`, with `{{ASSETS}}` replaced by `/assets/<build>`).
    pub page: Asset,
    /// The files under `/assets/<build>/`.
    pub files: Vec<Asset>,
}

impl Table {
    /// The asset called `name`.
    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.iter().find(|a| a.name == name)
    }
}

const JS: &str = "text/javascript; charset=utf-8";

/// (name, content type, bytes) of each file under `assets/`.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/icon.svg"),
    ),
    ("js/main.js", JS, include_bytes!("../assets/js/main.js")),
    ("js/api.js", JS, include_bytes!("../assets/js/api.js")),
    ("js/dom.js", JS, include_bytes!("../assets/js/dom.js")),
    ("js/signin.js", JS, include_bytes!("../assets/js/signin.js")),
    ("js/files.js", JS, include_bytes!("../assets/js/files.js")),
    (
        "js/actions.js",
        JS,
        include_bytes!("../assets/js/actions.js"),
    ),
    ("js/upload.js", JS, include_bytes!("../assets/js/upload.js")),
    (
        "js/preview.js",
        JS,
        include_bytes!("../assets/js/preview.js"),
    ),
    (
        "js/history.js",
        JS,
        include_bytes!("../assets/js/history.js"),
    ),
    (
        "js/account.js",
        JS,
        include_bytes!("../assets/js/account.js"),
    ),
    ("js/shares.js", JS, include_bytes!("../assets/js/shares.js")),
];

const PAGE: &str = include_str!("../assets/index.html");

fn hash(b: &[u8]) -> String {
    blake3::hash(b).to_hex()[..16].to_owned()
}

fn asset(name: &'static str, content_type: &'static str, raw: Vec<u8>) -> Asset {
    // level 19: done once per start on ~100 KiB, and the smallest download for a phone
    let zstd = zstd::bulk::compress(&raw, 19)
        .ok()
        .filter(|z| z.len() < raw.len());
    Asset {
        name,
        content_type,
        etag: format!("\"{}\"", hash(&raw)),
        raw,
        zstd,
    }
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut all = blake3::Hasher::new();
    for (name, _, bytes) in FILES {
        all.update(name.as_bytes());
        all.update(bytes);
    }
    let build = all.finalize().to_hex()[..16].to_owned();
    let page = PAGE.replace("{{ASSETS}}", &format!("/assets/{build}"));
    Table {
        page: asset("index.html", "text/html; charset=utf-8", page.into_bytes()),
        files: FILES
            .iter()
            .map(|(n, t, b)| asset(n, t, b.to_vec()))
            .collect(),
        build,
    }
});

/// The asset table (built, and compressed, on first use).
pub fn table() -> &'static Table {
    &TABLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_listed_and_the_page_names_the_build() {
        let t = table();
        assert_eq!(t.build.len(), 16);
        let page = String::from_utf8_lossy(&t.page.raw);
        assert!(page.contains(&format!("/assets/{}/js/main.js", t.build)));
        assert!(!page.contains("{{ASSETS}}"));
        for a in &t.files {
            if let Some(z) = &a.zstd {
                assert_eq!(
                    zstd::bulk::decompress(z, a.raw.len()).ok().as_ref(),
                    Some(&a.raw)
                );
            }
        }
        // every file in assets/ is embedded (a new file must be added to FILES)
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let mut on_disk = Vec::new();
        for sub in ["", "js"] {
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_file() {
                    let n = e.file_name().into_string().unwrap();
                    if n != "index.html" {
                        on_disk.push(if sub.is_empty() {
                            n
                        } else {
                            format!("{sub}/{n}")
                        });
                    }
                }
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = t.files.iter().map(|a| a.name.to_owned()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    /// ` onclick=`-like attributes: ` on` then letters then `=`.
    fn has_handler_attribute(html: &str) -> bool {
        html.match_indices(" on").any(|(i, _)| {
            let rest = &html[i + 3..];
            let letters = rest.chars().take_while(char::is_ascii_alphabetic).count();
            letters > 0 && rest[letters..].starts_with('=')
        })
    }

    #[test]
    fn no_asset_holds_inline_script_or_inner_html() {
        let page = String::from_utf8_lossy(&table().page.raw).into_owned();
        assert!(!page.contains("<script>"), "no inline script in the page");
        assert!(
            !has_handler_attribute(&page),
            "no inline event handler attributes"
        );
        for a in &table().files {
            let text = String::from_utf8_lossy(&a.raw);
            assert!(
                !text.contains("innerHTML"),
                "{}: names go in as text only",
                a.name
            );
            assert!(!text.contains("insertAdjacentHTML"), "{}", a.name);
            assert!(!text.contains("eval("), "{}", a.name);
        }
    }
}
