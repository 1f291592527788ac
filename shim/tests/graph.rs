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

#[test]
fn a_side_stream_without_the_device_is_an_error_naming_it() {
    if tch::Cuda::is_available() {
        return; // a GPU machine: the GPU script's pack-fed train-step moves batches on a side stream there
    }
    let e = froster_shim::SideStream::new(0).err().expect("no CUDA device here, so no stream").to_string();
    assert!(e.contains("CUDA stream") && (e.contains("no CUDA device 0") || e.contains("no CUDA headers")), "{e}");
    // A CPU tensor has no stream to record: refused, naming its device.
    let t = tch::Tensor::zeros([2], (tch::Kind::Float, tch::Device::Cpu));
    let e = froster_shim::record_stream(&t).expect_err("a CPU tensor has no stream").to_string();
    assert!(e.contains("record_stream") && (e.contains("cpu") || e.contains("no CUDA headers")), "{e}");
}
