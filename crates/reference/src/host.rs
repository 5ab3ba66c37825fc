//! Registry hosts and tags as Docker spells them: which names are Docker Hub, which hosts
//! are on the loopback interface (reached over plain HTTP, as Docker and crane do), and the
//! tag grammar. Every crate asks here instead of keeping its own copy.

use crate::name::DOCKER_HUB;

/// Docker Hub's other spellings, all meaning [`DOCKER_HUB`].
pub const DOCKER_HUB_ALIASES: [&str; 3] = [
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
];

/// The canonical host for `host`: lowercased, Docker Hub aliases mapped to `docker.io`.
///
/// Also accepts the keys Docker's `config.json` uses (`https://index.docker.io/v1/`,
/// `https://host:5000/path`): scheme and path are dropped.
#[must_use]
pub fn canonical_host(host: &str) -> String {
    let without_scheme = host.split_once("://").map_or(host, |(_, rest)| rest);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if DOCKER_HUB_ALIASES.contains(&host.as_str()) {
        DOCKER_HUB.to_owned()
    } else {
        host
    }
}

/// Whether `host` (`name`, `name:port`, `[v6]:port`) is on the loopback interface:
/// `localhost`, `127.0.0.0/8` or `[::1]`. A longer name (`127.0.0.1.evil.com`,
/// `localhost.evil.com`) is not.
#[must_use]
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        })
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a tag against Docker's grammar, `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; the error
/// names the tag and what is wrong with it.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    crate::name::check_tag(tag).map_err(|reason| format!("invalid tag: {}", crate::shown(&reason)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST:5000",
            "127.0.0.1:5000",
            "127.3.2.1",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "ghcr.io",
            "127.0.0.1.evil.com",
            "localhost.evil.com:5000",
            "localhostx:5000",
            "10.0.0.1",
            "[::2]:5000",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn hub_aliases_and_config_keys() {
        assert_eq!(canonical_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(canonical_host("Registry-1.Docker.io"), "docker.io");
        assert_eq!(canonical_host("registry.hub.docker.com"), "docker.io");
        assert_eq!(canonical_host("https://Host:5000/path"), "host:5000");
        assert_eq!(canonical_host("ghcr.io"), "ghcr.io");
    }

    #[test]
    fn tag_grammar() {
        for tag in ["latest", "1.27", "_x", "v1-rc.2", &"a".repeat(128)] {
            assert_eq!(validate_tag(tag), Ok(()), "{tag}");
        }
        for tag in ["", ".x", "-x", "a/b", "a b", &"a".repeat(129), "l\u{1b}"] {
            let err = validate_tag(tag).unwrap_err();
            assert!(err.starts_with("invalid tag: "), "{err}");
            assert!(!err.contains('\u{1b}'), "{err:?}");
        }
    }
}
