//! The binding's only `unsafe` code: one external ArrayBuffer per segment
//! read map, so JavaScript views are `new Uint8Array(ab, off, len)` over the
//! mapped file, with no copy and no per-view native object.
//!
//! The ArrayBuffer owns an `Arc<ReadMap>`; its finalizer drops it when the
//! last view is collected, and only then can the map go. The length exposed
//! is the map's backed length, every byte of which stays allocated while the
//! map lives (see the engine's `mmap` module), so reading the whole buffer
//! from JavaScript can never fault.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::sync::Arc;

use ferrolog_engine::ReadMap;
use napi::bindgen_prelude::{FromNapiValue, Unknown};
use napi::{sys, Env};

use crate::{from_napi, Result};

/// `napi_no_external_buffers_allowed`: runtimes with a V8 sandbox refuse
/// external buffers; callers then fall back to copying.
const NAPI_NO_EXTERNAL_BUFFERS_ALLOWED: sys::napi_status = 22;

unsafe extern "C" fn finalize(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the Box<Arc<ReadMap>> leaked in `create`, finalized once.
    drop(unsafe { Box::from_raw(hint.cast::<Arc<ReadMap>>()) });
}

/// An external ArrayBuffer over `map`, or None where the runtime refuses
/// external buffers.
pub fn create<'env>(env: &'env Env, map: Arc<ReadMap>) -> Result<Option<Unknown<'env>>> {
    let (ptr, len) = map.external_parts();
    let hint = Box::into_raw(Box::new(map));
    let mut value = std::ptr::null_mut();
    // SAFETY: ptr..ptr+len is mapped and backed for as long as `hint` (an Arc
    // of the map) lives, which the finalizer guarantees outlasts the buffer.
    let status = unsafe {
        sys::napi_create_external_arraybuffer(
            env.raw(),
            ptr.cast(),
            len,
            Some(finalize),
            hint.cast(),
            &mut value,
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: the buffer was not created, so the finalizer will not run.
        drop(unsafe { Box::from_raw(hint) });
        if status == NAPI_NO_EXTERNAL_BUFFERS_ALLOWED {
            return Ok(None);
        }
        return Err(crate::coded(
            "ERR_INTERNAL",
            format!("napi_create_external_arraybuffer failed with status {status}"),
        ));
    }
    // SAFETY: `value` is a valid napi_value just created in this env.
    Ok(Some(unsafe {
        Unknown::from_napi_value(env.raw(), value).map_err(from_napi)?
    }))
}
