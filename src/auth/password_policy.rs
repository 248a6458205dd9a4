//! `[passwords]` (SPEC §14): what a new password must pass, checked in this
//! order, the first failure named: `min_length`, `max_length`, `personal`
//! (not the username or email), `common` (not in zxcvbn's list of common
//! passwords, leaked-password frequency lists kept with the zxcvbn project),
//! `score` (zxcvbn's estimate, 0-4, at least `min_score`). Used by
//! `POST /auth/password` and `gatehouse hash-password`.

use zxcvbn::matching::patterns::MatchPattern;

/// The compiled `[passwords]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// In characters.
    pub min_length: usize,
    pub max_length: usize,
    /// zxcvbn score, 0..=4.
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_length: 128,
            min_score: 3,
        }
    }
}

/// The first rule a password failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    MinLength,
    MaxLength,
    Personal,
    Common,
    Score,
}

impl Rule {
    /// The `rule` member of the 422 answer.
    pub fn code(self) -> &'static str {
        match self {
            Rule::MinLength => "min_length",
            Rule::MaxLength => "max_length",
            Rule::Personal => "personal",
            Rule::Common => "common",
            Rule::Score => "score",
        }
    }
}

impl PasswordPolicy {
    /// Check `password` for a user known by `personal` (username, email).
    pub fn check(&self, password: &str, personal: &[&str]) -> Result<(), Rule> {
        let chars = password.chars().count();
        if chars < self.min_length {
            return Err(Rule::MinLength);
        }
        if chars > self.max_length {
            return Err(Rule::MaxLength);
        }
        if is_personal(password, personal) {
            return Err(Rule::Personal);
        }
        let inputs: Vec<&str> = personal.iter().copied().filter(|p| !p.is_empty()).collect();
        let estimate = zxcvbn::zxcvbn(password, &inputs);
        if is_common(estimate.sequence(), chars) {
            return Err(Rule::Common);
        }
        if (estimate.score() as u8) < self.min_score {
            return Err(Rule::Score);
        }
        Ok(())
    }

    /// The human text for a refusal.
    pub fn message(&self, rule: Rule) -> String {
        match rule {
            Rule::MinLength => format!("use at least {} characters", self.min_length),
            Rule::MaxLength => format!("use at most {} characters", self.max_length),
            Rule::Personal => "do not use your username or email address".into(),
            Rule::Common => "this password is one of the most common ones".into(),
            Rule::Score => "this password is too easy to guess; add words or characters".into(),
        }
    }
}

/// The password is, or contains, the username or email (or its local
/// part), ignoring case. Inputs under 3 characters are not looked for.
fn is_personal(password: &str, personal: &[&str]) -> bool {
    let pw = password.to_lowercase();
    personal
        .iter()
        .flat_map(|p| {
            let local = p.split_once('@').map(|(l, _)| l);
            [Some(*p), local]
        })
        .flatten()
        .map(str::to_lowercase)
        .any(|p| p.chars().count() >= 3 && pw.contains(&p))
}

/// The whole password is one entry (any case, l33t or reversed) of the
/// common-password list.
fn is_common(sequence: &[zxcvbn::Match], chars: usize) -> bool {
    match sequence {
        [m] => {
            m.i == 0
                && m.j + 1 == chars
                && matches!(&m.pattern, MatchPattern::Dictionary(d)
                    if format!("{:?}", d.dictionary_name) == "Passwords")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_in_order() {
        let p = PasswordPolicy::default();
        let who = ["alice", "alice@example.com"];
        let cases: &[(&str, Result<(), Rule>)] = &[
            ("short", Err(Rule::MinLength)),
            ("password", Err(Rule::MinLength)),
            ("elevenchars", Err(Rule::MinLength)),
            (&"x".repeat(129), Err(Rule::MaxLength)),
            ("alice@example.com", Err(Rule::Personal)),
            ("ALICE-is-my-name-9", Err(Rule::Personal)),
            ("password1234", Err(Rule::Common)),
            ("PASSWORD1234", Err(Rule::Common)),
            ("aaaaaaaaaaaa", Err(Rule::Score)),
            ("abcdefghijkl", Err(Rule::Score)),
            ("correct horse battery staple", Ok(())),
            ("Tr0ub4dor&3-violet-kettle", Ok(())),
        ];
        for (pw, want) in cases {
            assert_eq!(p.check(pw, &who), *want, "{pw}");
        }
    }

    #[test]
    fn limits_follow_the_config() {
        let p = PasswordPolicy {
            min_length: 4,
            max_length: 6,
            min_score: 0,
        };
        assert_eq!(p.check("abc", &[]), Err(Rule::MinLength));
        assert_eq!(p.check("abcdefg", &[]), Err(Rule::MaxLength));
        assert_eq!(p.check("zq9x", &[]), Ok(()));
        // Characters, not bytes.
        assert_eq!(p.check("ééééé", &[]), Ok(()));
        assert_eq!(Rule::Common.code(), "common");
        assert!(p.message(Rule::MinLength).contains('4'));
    }
}
