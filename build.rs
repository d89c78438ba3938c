//! Compresses the embedded fonts (DejaVu Sans, regular and bold: 1.46 MB as TrueType) with
//! deflate, so that they cost about half as much in the binary; the PDF writer inflates them
//! once, when a PDF is made.

use std::path::Path;

fn main() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"] {
        let from = Path::new("assets/fonts").join(name);
        println!("cargo:rerun-if-changed={}", from.display());
        let bytes = std::fs::read(&from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        let packed = miniz_oxide::deflate::compress_to_vec(&bytes, 10);
        let to = Path::new(&out).join(format!("{name}.deflate"));
        std::fs::write(&to, packed).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    }
}
