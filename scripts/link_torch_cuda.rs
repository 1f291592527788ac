//! The build script of the crates with binaries that use libtorch (froster-train, froster-tools): keeps
//! libtorch_cuda linked (the linker drops it under --as-needed, and then tch sees no GPU: tch-rs #980).
//! One file, named by both Cargo.toml files (`build = "../scripts/link_torch_cuda.rs"`).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(root) = std::env::var("LIBTORCH") else { return };
    let lib = std::path::Path::new(&root).join("lib");
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
