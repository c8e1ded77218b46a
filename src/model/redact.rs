//! Keeps credentials out of everything gitdrift prints. Git tokens and passwords that the
//! process learns are registered here, and every error message that leaves the process passes
//! through [`scrub`]; URLs lose their user-info password through [`url`].

use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What replaces a secret in output.
pub const MASK: &str = "***";

/// Remembers a secret value so that [`scrub`] removes it from any text. Short values are not
/// registered: masking every `a` in a message would hide more than it protects.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < 4 {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// How many secrets are registered (they are never forgotten): a text scrubbed before a new one
/// was registered may need scrubbing again.
pub fn registered() -> usize {
    SECRETS.read().unwrap_or_else(|e| e.into_inner()).len()
}

/// Replaces every registered secret, and any `user:password@` in URLs, in a text.
pub fn scrub(text: &str) -> String {
    let mut out = strip_url_passwords(text);
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// An error with its causes, `outer: inner: innermost` (a cause the outer message already
/// includes is not repeated), with credentials scrubbed.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    scrub(&out)
}

/// A URL fit for display: the password in `scheme://user:password@host` becomes `***`, and so
/// does a lone user name in an `http(s)://` URL (where it is usually a token).
pub fn url(raw: &str) -> String {
    scrub(raw)
}

/// Registers the credentials a URL carries: its password, or for `http(s)` a lone user name.
pub fn register_url_credentials(raw: &str) {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return;
    };
    match userinfo.split_once(':') {
        Some((_, password)) => register(password),
        None if is_http(scheme) => register(userinfo),
        None => {}
    }
}

fn is_http(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

fn strip_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let scheme_start = head[..pos]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            // Past that character, which may be several bytes long.
            .map_or(0, |i| {
                i + head[i..].chars().next().map_or(1, char::len_utf8)
            });
        let http = is_http(&head[scheme_start..pos]);
        let authority_end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    None if http => out.push_str(MASK),
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multibyte_character_before_a_scheme_is_not_cut() {
        assert_eq!(
            scrub("é://u:p4ss@h/x �https://u:p4ss@h/y"),
            "é://u:***@h/x �https://u:***@h/y"
        );
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            url("https://bot:ghp_abcdef123456@git.example.com/org/repo.git"),
            "https://bot:***@git.example.com/org/repo.git"
        );
        assert_eq!(
            url("ssh://git@example.com/org/repo.git"),
            "ssh://git@example.com/org/repo.git"
        );
        assert_eq!(
            scrub("failed: https://u:p4ss@h/x and http://h2/y"),
            "failed: https://u:***@h/x and http://h2/y"
        );
        assert_eq!(
            url("https://ghp_tokenAsUserName@github.com/org/repo.git"),
            "https://***@github.com/org/repo.git"
        );
        assert_eq!(
            url("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }

    #[test]
    fn url_credentials_are_registered() {
        register_url_credentials("https://ghp_lone-user-token-1234@github.com/o/r.git");
        assert_eq!(
            scrub("denied for ghp_lone-user-token-1234"),
            "denied for ***"
        );
        register_url_credentials("ssh://git@example.com/o/r.git");
        assert_eq!(scrub("user git"), "user git");
    }

    #[test]
    fn registered_secrets_are_masked_anywhere() {
        register("tok-registered-in-test-9f8e7d");
        assert_eq!(
            scrub("auth failed with tok-registered-in-test-9f8e7d for x"),
            "auth failed with *** for x"
        );
        register("ab");
        assert_eq!(scrub("ab"), "ab");
    }
}
