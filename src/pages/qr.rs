//! The TOTP enrolment QR code, drawn as SVG and inlined as a `data:` URI
//! (the CSP's `img-src data:`), so the secret never leaves in a request.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// `data:image/svg+xml;base64,...` of a QR code for `text`.
pub fn qr_data_uri(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(192, 192)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg)
    ))
}
