//! Writes the sample leaflets and clinician summary in docs/samples/ from real
//! plans (the same library path the CLI and the desktop app use). Run from the
//! repository root: `cargo run -p stepdown --example leaflet_samples`, then
//! `cd docs/samples && for f in *.pdf; do pdftoppm -png -r 60 "$f" "${f%.pdf}"; done`
//! and look at the PNGs.

#[path = "../tests/common/real_plans.rs"]
mod plans;

use std::path::Path;

use stepdown::leaflet::render_leaflet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new("docs/samples");
    std::fs::create_dir_all(dir)?;

    for (name, input, large) in [
        ("leaflet-standard", plans::TWO_OPIOIDS, false),
        ("leaflet-large-print", plans::TWO_OPIOIDS, true),
        ("leaflet-patches", plans::FENTANYL, false),
    ] {
        let r = render_leaflet(&plans::leaflet_input(input, large))?;
        std::fs::write(dir.join(format!("{name}.pdf")), &r.bytes)?;
        println!("{name}.pdf: {} pages, {} bytes", r.pages, r.bytes.len());
    }

    for (name, input) in [
        ("summary", plans::TWO_OPIOIDS),
        ("summary-patches", plans::FENTANYL),
    ] {
        let s = plans::summary(input);
        let r = s.to_pdf(plans::date(2026, 11, 24))?;
        std::fs::write(dir.join(format!("{name}.pdf")), &r.bytes)?;
        std::fs::write(dir.join(format!("{name}.txt")), s.to_text())?;
        println!("{name}.pdf: {} pages, {} bytes", r.pages, r.bytes.len());
    }
    Ok(())
}
