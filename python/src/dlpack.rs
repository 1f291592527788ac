//! Zero-copy handover: a [`Buffer`] owns the bytes the Rust loader wrote and lends them to torch through DLPack
//! (`torch.from_dlpack`) or to numpy through the array interface. No byte is copied either way.
use froster_loader::{Batch, Recycler};
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ffi::c_void;

#[repr(C)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

/// What a buffer holds: a loader batch's clips (given back to the loader when the tensor dies, so that steady
/// state allocates nothing), or plain data.
pub enum Data {
    Clips { batch: Batch, float: bool, recycler: Recycler },
    U8(Vec<u8>),
    I64(Vec<i64>),
}

impl Data {
    fn ptr(&mut self) -> *mut c_void {
        match self {
            Data::Clips { batch, float: false, .. } => batch.u8.as_mut_ptr() as _,
            Data::Clips { batch, float: true, .. } => batch.f32.as_mut_ptr() as _,
            Data::U8(v) => v.as_mut_ptr() as _,
            Data::I64(v) => v.as_mut_ptr() as _,
        }
    }
    /// DLPack code and bits, numpy typestr.
    fn dtype(&self) -> (u8, u8, &'static str) {
        match self {
            Data::Clips { float: true, .. } => (2, 32, "<f4"),
            Data::Clips { float: false, .. } | Data::U8(_) => (1, 8, "|u1"),
            Data::I64(_) => (0, 64, "<i8"),
        }
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        if let Data::Clips { batch, recycler, .. } = self {
            recycler.recycle(std::mem::take(batch));
        }
    }
}

/// What a DLPack capsule keeps alive until its consumer is done.
struct Owner {
    data: Data,
    shape: Vec<i64>,
}

unsafe extern "C" fn delete_managed(m: *mut DLManagedTensor) {
    let m = Box::from_raw(m);
    drop(Box::from_raw(m.manager_ctx as *mut Owner));
}

const NAME: &[u8] = b"dltensor\0";

/// A capsule nobody consumed still owns its tensor (a consumer renames it "used_dltensor").
unsafe extern "C" fn capsule_destructor(cap: *mut ffi::PyObject) {
    if ffi::PyCapsule_IsValid(cap, NAME.as_ptr() as _) == 1 {
        let p = ffi::PyCapsule_GetPointer(cap, NAME.as_ptr() as _) as *mut DLManagedTensor;
        if let Some(d) = p.as_ref().and_then(|m| m.deleter) {
            d(p);
        }
    }
}

/// A batch's tensor, owned by Rust until torch (DLPack) or numpy (array interface) takes it.
#[pyclass(module = "froster_loader._froster_loader")]
pub struct Buffer {
    owner: Option<Box<Owner>>,
}

impl Buffer {
    pub fn new(data: Data, shape: Vec<usize>) -> Self {
        Buffer { owner: Some(Box::new(Owner { data, shape: shape.into_iter().map(|d| d as i64).collect() })) }
    }
}

#[pymethods]
impl Buffer {
    /// The DLPack capsule (CPU, C-contiguous); the buffer is handed over and cannot be used again.
    #[pyo3(signature = (**_kwargs))]
    fn __dlpack__(&mut self, py: Python<'_>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        let mut owner =
            self.owner.take().ok_or_else(|| PyBufferError::new_err("the buffer was handed over already"))?;
        let (code, bits, _) = owner.data.dtype();
        let data = owner.data.ptr();
        let shape = owner.shape.as_mut_ptr();
        let ndim = owner.shape.len() as i32;
        let managed = Box::new(DLManagedTensor {
            dl_tensor: DLTensor {
                data,
                device: DLDevice { device_type: 1, device_id: 0 },
                ndim,
                dtype: DLDataType { code, bits, lanes: 1 },
                shape,
                strides: std::ptr::null_mut(),
                byte_offset: 0,
            },
            manager_ctx: Box::into_raw(owner) as *mut c_void,
            deleter: Some(delete_managed),
        });
        let raw = Box::into_raw(managed);
        // SAFETY: the capsule owns `raw` until a consumer renames it; the destructor frees it otherwise.
        unsafe {
            let cap = ffi::PyCapsule_New(raw as *mut c_void, NAME.as_ptr() as _, Some(capsule_destructor));
            if cap.is_null() {
                delete_managed(raw);
                return Err(PyErr::fetch(py));
            }
            Ok(Py::from_owned_ptr(py, cap))
        }
    }

    /// DLPack's device: the CPU.
    fn __dlpack_device__(&self) -> (i32, i32) {
        (1, 0)
    }

    /// numpy's array interface (numpy keeps this buffer alive as the array's base).
    #[getter]
    fn __array_interface__<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let owner = self.owner.as_mut().ok_or_else(|| PyBufferError::new_err("the buffer was handed over already"))?;
        let (_, _, typestr) = owner.data.dtype();
        let d = PyDict::new(py);
        d.set_item("shape", owner.shape.clone())?;
        d.set_item("typestr", typestr)?;
        d.set_item("data", (owner.data.ptr() as usize, false))?;
        d.set_item("version", 3)?;
        Ok(d)
    }

    /// The shape.
    #[getter]
    fn shape(&self) -> Vec<i64> {
        self.owner.as_ref().map(|o| o.shape.clone()).unwrap_or_default()
    }

    /// A copy of the bytes (tests and debugging).
    fn tobytes(&self) -> PyResult<Vec<u8>> {
        let o = self.owner.as_ref().ok_or_else(|| PyBufferError::new_err("the buffer was handed over already"))?;
        Ok(match &o.data {
            Data::Clips { batch, float: false, .. } => batch.u8.clone(),
            Data::Clips { batch, float: true, .. } => batch.f32.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U8(v) => v.clone(),
            Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        })
    }
}
