//! Counting the decoder's own errors. A damaged bitstream decodes "fine" as far as GStreamer's bus goes: libav
//! conceals the damage and reports it only to its log (the `libav` debug category). Each libav decoder that a
//! decode adds is made single-threaded, so that its log lines come from its own streaming thread, which is
//! registered against that decode's counter; a log function counts the `libav` ERROR lines per thread.
use gstreamer as gst;
use gstreamer::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;

type Registry = Mutex<HashMap<ThreadId, Arc<AtomicU32>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Once per process, after gst::init: route libav's errors to the counters (and nowhere else unless GST_DEBUG
/// asks for GStreamer's own printing).
pub(crate) fn install() {
    if std::env::var_os("GST_DEBUG").is_none() {
        gst::log::remove_default_log_function();
    }
    gst::log::set_threshold_for_name("libav", gst::DebugLevel::Error);
    gst::log::add_log_function(|cat, level, _file, _func, _line, _obj, _msg| {
        if level == gst::DebugLevel::Error && cat.name() == "libav" {
            let reg = registry().lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = reg.get(&std::thread::current().id()) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
}

/// Counts the errors of the libav decoders `decodebin` will add into `counter`.
pub(crate) fn watch(decodebin: &gst::Element, counter: Arc<AtomicU32>) {
    let Some(bin) = decodebin.downcast_ref::<gst::Bin>() else { return };
    bin.connect_element_added(move |_, element| {
        let is_libav = element.factory().is_some_and(|f| f.name().starts_with("avdec_"));
        if !is_libav {
            return;
        }
        if element.find_property("max-threads").is_some() {
            element.set_property("max-threads", 1i32);
        }
        let Some(sink) = element.static_pad("sink") else { return };
        let counter = counter.clone();
        sink.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
            reg.insert(std::thread::current().id(), counter.clone());
            gst::PadProbeReturn::Remove
        });
    });
}

/// Forgets the threads that counted into `counter` (the decode is over).
pub(crate) fn release(counter: &Arc<AtomicU32>) {
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    reg.retain(|_, c| !Arc::ptr_eq(c, counter));
}
