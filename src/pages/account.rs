//! The account page (SPEC §14): identity and roles, sessions with revoke
//! buttons, TOTP enrolment with its QR code, password change, and the last
//! sign-ins.

use askama::Template;

/// One live session, as shown.
pub struct SessionRow {
    /// The public session id (what the revoke form names).
    pub id: String,
    /// The user agent, shortened.
    pub device: String,
    pub ip: String,
    pub last_seen: String,
    pub current: bool,
}

/// One sign-in attempt, as shown.
pub struct HistoryRow {
    pub time: String,
    pub ip: String,
    pub user_agent: String,
    pub result: String,
    pub provider: String,
    pub new_device: bool,
}

/// A pending enrolment: what the authenticator app needs.
pub struct PendingTotp {
    pub secret: String,
    /// `data:` URI of the SVG QR code of `uri`.
    pub qr: String,
    pub uri: String,
}

/// Where the user's TOTP stands.
pub enum TotpView {
    Off,
    Pending(PendingTotp),
    /// Active, with the number of backup codes left.
    Active(usize),
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub prefix: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub roles: &'a [String],
    pub sessions: Vec<SessionRow>,
    pub totp: TotpView,
    /// Right after confirming: the backup codes, shown this once.
    pub backup_codes: Option<Vec<String>>,
    pub totp_active: bool,
    pub min_length: usize,
    pub max_length: usize,
    pub history: Vec<HistoryRow>,
    pub notice: Option<&'a str>,
    pub error: Option<String>,
}
