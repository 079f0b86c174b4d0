//! SQLite's own allocations (records, cursors, statement memory) served by mimalloc instead of
//! the C library's `malloc`. The binary's Rust allocations already go to mimalloc; SQLite calls
//! `malloc` directly, and glibc's allocator, with its arena locks and free-list walks, took about
//! a sixth of the writer's time inserting messages (docs/benchmarks.md). SQLite's
//! `SQLITE_CONFIG_MALLOC` is the supported way to replace it. It is not thread-safe and has to be
//! set before SQLite initialises: a thread using SQLite meanwhile could free with one allocator
//! what the other allocated. So the binary calls [`use_mimalloc`] first thing in `main`, before
//! any thread starts; a process that does not (a test) keeps the C library's allocator.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use libmimalloc_sys as mi;
use rusqlite::ffi;

unsafe extern "C" fn malloc(size: c_int) -> *mut c_void {
    // SQLite never asks for a negative size; treat one as zero rather than wrap.
    unsafe { mi::mi_malloc(usize::try_from(size).unwrap_or(0)) }
}

unsafe extern "C" fn free(pointer: *mut c_void) {
    unsafe { mi::mi_free(pointer) }
}

unsafe extern "C" fn realloc(pointer: *mut c_void, size: c_int) -> *mut c_void {
    unsafe { mi::mi_realloc(pointer, usize::try_from(size).unwrap_or(0)) }
}

unsafe extern "C" fn size(pointer: *mut c_void) -> c_int {
    let usable = unsafe { mi::mi_usable_size(pointer) };
    c_int::try_from(usable).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn roundup(size: c_int) -> c_int {
    let good = unsafe { mi::mi_good_size(usize::try_from(size).unwrap_or(0)) };
    c_int::try_from(good).unwrap_or(size)
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn shutdown(_: *mut c_void) {}

/// The allocator SQLite is given (it copies the structure).
fn methods() -> ffi::sqlite3_mem_methods {
    ffi::sqlite3_mem_methods {
        xMalloc: Some(malloc),
        xFree: Some(free),
        xRealloc: Some(realloc),
        xSize: Some(size),
        xRoundup: Some(roundup),
        xInit: Some(init),
        xShutdown: Some(shutdown),
        pAppData: std::ptr::null_mut(),
    }
}

/// Make SQLite allocate with mimalloc, once per process; whether it does. Where SQLite was
/// initialised already, it keeps its allocator: only slower, never wrong.
///
/// # Safety
///
/// No other thread may use SQLite while this runs (SQLite's `sqlite3_config` is not
/// thread-safe): call it at the start of `main`, before any thread is spawned.
pub unsafe fn use_mimalloc() -> bool {
    static CONFIGURED: OnceLock<bool> = OnceLock::new();
    *CONFIGURED.get_or_init(|| {
        // SAFETY: SQLITE_CONFIG_MALLOC takes a pointer to a `sqlite3_mem_methods` that SQLite
        // copies; the functions above keep SQLite's contract (xSize of a live allocation is at
        // least its requested size, xRealloc keeps the contents). The caller promises that no
        // other thread uses SQLite meanwhile; if SQLite was initialised already it answers
        // SQLITE_MISUSE and changes nothing.
        let status = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods()) };
        if status != ffi::SQLITE_OK {
            tracing::debug!(
                status,
                "SQLite was initialised already; it keeps its allocator"
            );
        }
        status == ffi::SQLITE_OK
    })
}
