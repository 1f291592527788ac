//! libtorch's profiler through the shim, on the CPU: what ran inside a trace, with sane times, and nothing else.
//! One test: the profiler is one per process.
use froster_shim::trace::{summarize, Trace};
use tch::{Device, Kind, Tensor};

#[test]
fn a_trace_sees_the_ops_run_inside_it_and_one_trace_runs_at_a_time() {
    let a = Tensor::randn([64, 64], (Kind::Float, Device::Cpu));
    let _ = a.matmul(&a);
    let t = Trace::start(false).unwrap();
    let e = Trace::start(false).err().expect("a second trace while one runs").to_string();
    assert!(e.contains("trace start"), "{e}");
    let _ = (a.matmul(&a) + 1.0).sum(Kind::Float);
    let events = t.stop().unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains(&"aten::mm") && names.contains(&"aten::add"), "{names:?}");
    assert!(events.iter().all(|e| !e.on_device && e.end_ns >= e.start_ns), "{events:?}");
    let s = summarize(events.iter().filter(|e| e.name == "aten::mm"), 5);
    assert_eq!(s.top.len(), 1);
    assert!(s.busy_ns > 0 && s.busy_ns <= s.total_ns, "{s:?}");
    // The trace is over: a new one sees only its own ops.
    let t = Trace::start(false).unwrap();
    let _ = a.relu();
    let names: Vec<String> = t.stop().unwrap().into_iter().map(|e| e.name).collect();
    assert!(names.contains(&"aten::relu".to_string()) && !names.contains(&"aten::mm".to_string()), "{names:?}");
}
