//! The printable certificate (Decision 5772/QĐ-BYT): one A4 page in Vietnamese and English with
//! the fields the decision lists — full name, date of birth, nationality, disease, number of
//! doses, date of vaccination, dose number, vaccine, product, manufacturer, certificate id —
//! plus issuer, validity and the QR code (drawn as vector squares, so it prints sharp). Fonts:
//! DejaVu Sans, embedded (see `assets/README.md`).

use std::io::Cursor;

use domain::Error;
use printpdf::{
    IndirectFontRef, Mm, PdfDocument, PdfLayerReference, Point, Polygon, path::PaintMode,
    path::WindingOrder,
};
use store::VaccinationCertificate;

const REGULAR: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../assets/DejaVuSans-Bold.ttf");

fn pdf_error(e: impl std::fmt::Display) -> Error {
    tracing::error!(%e, "printing a certificate");
    Error::internal()
}

fn text_of<'a>(payload: &'a serde_json::Value, pointer: &str) -> &'a str {
    payload
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or("")
}

/// `YYYY-MM-DD` → `DD/MM/YYYY` (as printed in Vietnam); other text unchanged.
fn vn_date(iso: &str) -> String {
    match chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d") {
        Ok(d) => d.format("%d/%m/%Y").to_string(),
        Err(_) => iso.to_string(),
    }
}

/// The rows printed: (Vietnamese label, English label, value).
pub fn fields(c: &VaccinationCertificate) -> Vec<(&'static str, &'static str, String)> {
    let p = &c.payload;
    let catalogue = domain::vaccines::VaccineCatalogue::embedded();
    let product = catalogue.resolve(text_of(p, "/v/0/mp"));
    let name = format!("{} {}", text_of(p, "/nam/fn"), text_of(p, "/nam/gn"))
        .trim()
        .to_string();
    let dn = p.pointer("/v/0/dn").and_then(|v| v.as_u64()).unwrap_or(0);
    let sd = p.pointer("/v/0/sd").and_then(|v| v.as_u64()).unwrap_or(0);
    vec![
        ("Họ và tên", "Full name", name),
        ("Ngày sinh", "Date of birth", vn_date(text_of(p, "/dob"))),
        ("Quốc tịch", "Nationality", "Việt Nam / Viet Nam".into()),
        ("Bệnh", "Disease", "COVID-19".into()),
        ("Số mũi đã tiêm", "Number of doses", sd.to_string()),
        ("Mũi số", "Dose number", format!("{dn}/{sd}")),
        (
            "Ngày tiêm",
            "Date of vaccination",
            vn_date(text_of(p, "/v/0/dt")),
        ),
        (
            "Loại vắc xin",
            "Vaccine",
            product.map_or_else(
                || text_of(p, "/v/0/vp").to_string(),
                |x| x.prophylaxis.clone(),
            ),
        ),
        (
            "Tên vắc xin",
            "Product",
            product.map_or_else(|| text_of(p, "/v/0/mp").to_string(), |x| x.name.clone()),
        ),
        (
            "Nhà sản xuất",
            "Manufacturer",
            product.map_or_else(
                || text_of(p, "/v/0/ma").to_string(),
                |x| x.manufacturer.clone(),
            ),
        ),
        (
            "Nước tiêm",
            "Country of vaccination",
            text_of(p, "/v/0/co").to_string(),
        ),
        ("Đơn vị cấp", "Issuer", text_of(p, "/v/0/is").to_string()),
        ("Mã chứng nhận", "Certificate ID", c.uvci.clone()),
        (
            "Có giá trị đến",
            "Valid until",
            c.expires_at
                .map(|t| {
                    domain::vietnam_time::local_date(t)
                        .format("%d/%m/%Y")
                        .to_string()
                })
                .unwrap_or_else(|| "—".into()),
        ),
    ]
}

fn draw_qr(layer: &PdfLayerReference, text: &str, x: f32, y: f32, size: f32) -> Result<(), Error> {
    let code = certs::qr::qr_code(text).map_err(pdf_error)?;
    let width = code.width();
    // A quiet zone of 4 modules on each side.
    let module = size / (width as f32 + 8.0);
    let colors = code.to_colors();
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (col, row) = ((i % width) as f32, (i / width) as f32);
        let x0 = x + (col + 4.0) * module;
        let y1 = y + size - (row + 4.0) * module;
        let y0 = y1 - module;
        let pt = |a: f32, b: f32| (Point::new(Mm(a), Mm(b)), false);
        layer.add_polygon(Polygon {
            rings: vec![vec![
                pt(x0, y0),
                pt(x0 + module, y0),
                pt(x0 + module, y1),
                pt(x0, y1),
            ]],
            mode: PaintMode::Fill,
            winding_order: WindingOrder::NonZero,
        });
    }
    Ok(())
}

/// The certificate as a one-page PDF (the certificate must be issued: it needs its QR text).
pub fn certificate_pdf(c: &VaccinationCertificate) -> Result<Vec<u8>, Error> {
    let hc1 = c.hc1.as_deref().ok_or_else(|| {
        Error::new(
            domain::ErrorCode::Conflict,
            "Chứng nhận chưa được ký nên chưa in được",
            "The certificate is not signed yet, so it cannot be printed",
        )
    })?;
    let (doc, page, layer) = PdfDocument::new(
        "Chứng nhận tiêm chủng COVID-19 / COVID-19 vaccination certificate",
        Mm(210.0),
        Mm(297.0),
        "certificate",
    );
    let regular: IndirectFontRef = doc
        .add_external_font(Cursor::new(REGULAR))
        .map_err(pdf_error)?;
    let bold: IndirectFontRef = doc
        .add_external_font(Cursor::new(BOLD))
        .map_err(pdf_error)?;
    let layer = doc.get_page(page).get_layer(layer);
    layer.use_text(
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        11.0,
        Mm(62.0),
        Mm(280.0),
        &bold,
    );
    layer.use_text(
        "Độc lập - Tự do - Hạnh phúc",
        10.0,
        Mm(82.0),
        Mm(274.0),
        &regular,
    );
    layer.use_text(
        "CHỨNG NHẬN TIÊM CHỦNG COVID-19",
        16.0,
        Mm(47.0),
        Mm(258.0),
        &bold,
    );
    layer.use_text(
        "COVID-19 VACCINATION CERTIFICATE",
        11.0,
        Mm(66.0),
        Mm(251.0),
        &regular,
    );
    let mut y = 236.0;
    for (vi, en, value) in fields(c) {
        layer.use_text(format!("{vi} / {en}:"), 9.0, Mm(20.0), Mm(y), &regular);
        layer.use_text(value, 10.0, Mm(85.0), Mm(y), &bold);
        y -= 8.0;
    }
    draw_qr(&layer, hc1, 60.0, 20.0, 90.0)?;
    layer.use_text(
        "Quét mã QR để kiểm tra; đối chiếu họ tên và ngày sinh với giấy tờ tùy thân.",
        8.0,
        Mm(20.0),
        Mm(14.0),
        &regular,
    );
    layer.use_text(
        "Scan the QR code to verify; compare name and date of birth with an identity document.",
        8.0,
        Mm(20.0),
        Mm(9.0),
        &regular,
    );
    doc.save_to_bytes().map_err(pdf_error)
}
