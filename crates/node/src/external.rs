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

/// Fetched record bytes handed to JavaScript without a copy: a Buffer whose
/// memory is the `Bytes` the Kafka client decoded from the response (a
/// slice of the response frame), owned by the Buffer and dropped by its
/// finalizer. The frame stays allocated while any view of it lives, so a
/// fetch response's memory is held at most as long as its records are.
pub struct ExternalBytes(pub bytes::Bytes);

unsafe extern "C" fn finalize_bytes(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the Box<Bytes> leaked in `to_napi_value`, finalized once.
    drop(unsafe { Box::from_raw(hint.cast::<bytes::Bytes>()) });
}

impl napi::bindgen_prelude::TypeName for ExternalBytes {
    fn type_name() -> &'static str {
        "Buffer"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl napi::bindgen_prelude::ToNapiValue for ExternalBytes {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let bytes = val.0;
        let len = bytes.len();
        let mut value = std::ptr::null_mut();
        if len == 0 {
            // V8 lets several buffers share a data pointer only when it is null.
            // SAFETY: `env` is the valid env napi passes to conversions.
            let status =
                unsafe { sys::napi_create_buffer(env, 0, std::ptr::null_mut(), &mut value) };
            return check(status, value, "napi_create_buffer");
        }
        let ptr = bytes.as_ptr();
        let hint = Box::into_raw(Box::new(bytes));
        // SAFETY: ptr..ptr+len is heap memory of the response frame, kept
        // alive by the Bytes in `hint` until the finalizer drops it. Nothing
        // in Rust reads this range again (the Bytes is only dropped), and no
        // other Bytes covers it (each partition's records are their own
        // range of the frame), so JavaScript writing into its Buffer changes
        // nothing Rust relies on.
        let status = unsafe {
            sys::napi_create_external_buffer(
                env,
                len,
                ptr.cast_mut().cast(),
                Some(finalize_bytes),
                hint.cast(),
                &mut value,
            )
        };
        if status == sys::Status::napi_ok {
            return Ok(value);
        }
        // SAFETY: the buffer was not created, so the finalizer will not run.
        let bytes = unsafe { Box::from_raw(hint) };
        if status != NAPI_NO_EXTERNAL_BUFFERS_ALLOWED {
            return check(status, value, "napi_create_external_buffer");
        }
        // A runtime with a V8 sandbox: copy instead.
        // SAFETY: `bytes` is valid for `len` bytes; napi copies them.
        let status = unsafe {
            sys::napi_create_buffer_copy(
                env,
                len,
                bytes.as_ptr().cast(),
                std::ptr::null_mut(),
                &mut value,
            )
        };
        check(status, value, "napi_create_buffer_copy")
    }
}

/// napi's own failure keeps napi's status as its code, as a conversion's
/// error must (napi's `ToNapiValue` returns `napi::Result`).
fn check(
    status: sys::napi_status,
    value: sys::napi_value,
    what: &str,
) -> napi::Result<sys::napi_value> {
    if status == sys::Status::napi_ok {
        Ok(value)
    } else {
        Err(napi::Error::new(
            napi::Status::GenericFailure,
            format!("{what} failed with status {status}"),
        ))
    }
}
