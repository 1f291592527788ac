//! Compiles csrc/ (the H.264 codec: libavcodec opened with dlopen at first use) against the headers of the
//! system's libavcodec-dev (installed by scripts/setup.sh). Nothing is linked: binaries run without libav.
fn main() {
    println!("cargo:rerun-if-changed=csrc");
    let mut b = cc::Build::new();
    b.files(["csrc/av.c", "csrc/h264_dec.c", "csrc/h264_enc.c"]).warnings(true).extra_warnings(true);
    for lib in ["libavcodec", "libavutil"] {
        let found = pkg_config::Config::new().cargo_metadata(false).probe(lib).unwrap_or_else(|e| {
            panic!(
                "froster-loader needs {lib}'s headers (Debian: apt install {lib}-dev, as scripts/setup.sh does): {e}"
            )
        });
        for dir in &found.include_paths {
            b.include(dir);
        }
    }
    b.compile("froster_h264");
}
