//! CUDA graphs where there is no GPU: refused with words, never a crash (the GPU script checks capture and replay).
use froster_shim::CudaGraph;

#[test]
fn a_graph_without_the_device_is_an_error_naming_it() {
    if tch::Cuda::is_available() {
        return; // a GPU machine: the GPU script's train-step checks graphs there
    }
    let e = CudaGraph::new(0).err().expect("no CUDA device here, so no graph").to_string();
    assert!(e.contains("CUDA graph") && (e.contains("no CUDA device 0") || e.contains("no CUDA headers")), "{e}");
}
