//! QR codes for `HC1:` texts: rendering (PNG, SVG) and reading (PNG/JPEG images).
//!
//! The HCERT specification asks for alphanumeric mode (Base45 and `HC1:` only use the QR
//! alphanumeric character set) and error correction level Q; [`qr_code`] builds exactly that,
//! choosing the smallest QR version the text fits in. Texts with characters outside the
//! alphanumeric set are rejected.

use std::io::Cursor;

use image::{ImageFormat, Luma};
use qrcode::bits::Bits;
use qrcode::{EcLevel, QrCode, Version};

use crate::error::{Error, Result};

/// Default size of one QR module in pixels for [`to_png`].
pub const DEFAULT_MODULE_PIXELS: u32 = 4;

fn is_alphanumeric(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_uppercase() || b" $%*+-./:".contains(&b)
}

/// Build the QR code of `text` in alphanumeric mode with error correction level Q.
pub fn qr_code(text: &str) -> Result<QrCode> {
    if let Some(c) = text.bytes().find(|b| !is_alphanumeric(*b)) {
        return Err(Error::QrEncode(format!(
            "byte {c:#04x} is outside the QR alphanumeric character set"
        )));
    }
    for v in 1..=40 {
        let mut bits = Bits::new(Version::Normal(v));
        if bits.push_alphanumeric_data(text.as_bytes()).is_err()
            || bits.push_terminator(EcLevel::Q).is_err()
        {
            continue;
        }
        return QrCode::with_bits(bits, EcLevel::Q).map_err(|e| Error::QrEncode(e.to_string()));
    }
    Err(Error::QrEncode(
        "text too long for a QR code at level Q".into(),
    ))
}

/// Render `text` as a PNG QR code (black on white, 4-module quiet zone), `module_pixels`
/// pixels per module.
pub fn to_png(text: &str, module_pixels: u32) -> Result<Vec<u8>> {
    let code = qr_code(text)?;
    let px = module_pixels.max(1);
    let img = code
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(px, px)
        .build();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| Error::QrEncode(format!("PNG encoding: {e}")))?;
    Ok(out.into_inner())
}

/// Render `text` as an SVG QR code (scalable; at least 256×256 units).
pub fn to_svg(text: &str) -> Result<String> {
    let code = qr_code(text)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .build())
}

/// Read the text of the first QR code found in an image (PNG, JPEG).
pub fn read_qr_image(bytes: &[u8]) -> Result<String> {
    let img = image::load_from_memory(bytes)
        .map_err(|e| Error::QrDecode(format!("image: {e}")))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    let mut last_err = None;
    for grid in grids {
        match grid.decode() {
            Ok((_, content)) => return Ok(content),
            Err(e) => last_err = Some(e.to_string()),
        }
    }
    Err(Error::QrDecode(
        last_err.unwrap_or_else(|| "no QR code found in the image".into()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "HC1:NCFOXN%TS3DHMRG2FUPNR9/MPV45NL-AH%TAIOOW%IHOT$E08WAWN0%W0AT4V22F/8X*G3M9JUPY0BX/KR96R/S09T./0LWTKD33236J3TA3M*4VV2 73-E3ND3DAJ-43%*48YIB73A*G3W19UEBY5:PI0EGSP4*2D$43B+2SEB7";

    #[test]
    fn png_round_trip() {
        let png = to_png(TEXT, DEFAULT_MODULE_PIXELS).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(read_qr_image(&png).unwrap(), TEXT);
    }

    /// Smallest version holding `text` in byte mode at level Q.
    fn byte_mode_version(text: &str) -> i16 {
        (1..=40)
            .find(|v| {
                let mut bits = Bits::new(Version::Normal(*v));
                bits.push_byte_data(text.as_bytes()).is_ok()
                    && bits.push_terminator(EcLevel::Q).is_ok()
            })
            .unwrap()
    }

    #[test]
    fn alphanumeric_level_q() {
        let code = qr_code(TEXT).unwrap();
        assert_eq!(code.error_correction_level(), EcLevel::Q);
        // 176 characters: alphanumeric mode fits version 9 at level Q, byte mode needs 11.
        assert_eq!(TEXT.len(), 176);
        assert_eq!(code.version(), Version::Normal(9));
        assert_eq!(byte_mode_version(TEXT), 11);
        assert!(qr_code("hc1:lower").is_err());
        assert!(qr_code(&"A".repeat(3000)).is_err());
    }

    #[test]
    fn svg_output() {
        let svg = to_svg(TEXT).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn unreadable_images() {
        assert!(read_qr_image(b"not an image").is_err());
        let blank = image::GrayImage::from_pixel(64, 64, Luma([255u8]));
        let mut png = Cursor::new(Vec::new());
        blank.write_to(&mut png, ImageFormat::Png).unwrap();
        assert!(matches!(
            read_qr_image(png.get_ref()),
            Err(Error::QrDecode(_))
        ));
    }
}
