//! Compiles cpp/ against the headers of the torch that torch-sys links (its lib folder comes as
//! DEP_TCH_LIBTORCH_LIB; LIBTORCH is the fallback). NCCL is compiled in when the wheel's nvidia/ headers exist.
use std::path::{Path, PathBuf};

#[path = "build_kernels.rs"]
mod kernels;

fn main() {
    println!("cargo:rerun-if-changed=cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let torch = torch_root();
    let mut b = cc::Build::new();
    b.cpp(true)
        .std("c++17")
        .flag_if_supported("-w")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .define("USE_C10D_GLOO", None)
        .include("cpp")
        .include("vendor")
        .include(torch.join("include"))
        .include(torch.join("include/torch/csrc/api/include"))
        .file("cpp/group.cpp")
        .file("cpp/nccl.cpp")
        .file("cpp/optim.cpp")
        .file("cpp/activation.cpp")
        .file("cpp/attention.cpp")
        .file("cpp/packed_attention.cpp")
        .file("cpp/kernels.cpp")
        .file("cpp/self_check.cpp")
        .file("cpp/layer_norm_kernels.cpp")
        .file("cpp/temporal_kv_kernels.cpp")
        .file("cpp/graph.cpp")
        .file("cpp/stream.cpp")
        .file("cpp/trace.cpp");
    let nvidia = torch.join("../nvidia");
    let (cuda, nccl) = (nvidia.join("cu13/include"), nvidia.join("nccl/include"));
    if cuda.join("cuda_runtime_api.h").exists() && nccl.join("nccl.h").exists() {
        b.define("FROSTER_SHIM_NCCL", None)
            .define("FROSTER_SHIM_CUDA", None)
            .define("USE_C10D_NCCL", None)
            .include(&cuda)
            .include(nccl);
        println!("cargo:rustc-cfg=froster_nccl");
        if let Some(out) = kernels::compile(&nvidia.join("cu13"), &cuda) {
            b.define("FROSTER_SHIM_KERNELS", None).include(out);
        }
    }
    println!("cargo::rustc-check-cfg=cfg(froster_nccl)");
    b.compile("froster_shim");
    let lib = torch.join("lib");
    println!("cargo:rustc-link-search=native={}", lib.display());
    for l in ["torch_cpu", "c10"] {
        println!("cargo:rustc-link-lib=dylib={l}");
    }
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-lib=dylib=torch_cuda");
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
    }
}

fn torch_root() -> PathBuf {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        if let Some(root) = Path::new(&lib).parent() {
            return root.to_path_buf();
        }
    }
    match std::env::var("LIBTORCH") {
        Ok(root) => PathBuf::from(root),
        Err(_) => panic!("froster-shim: neither DEP_TCH_LIBTORCH_LIB nor LIBTORCH is set (run scripts/setup.sh)"),
    }
}
