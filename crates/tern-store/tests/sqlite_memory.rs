//! SQLite's allocations go to mimalloc (`tern_store::sqlite::use_mimalloc`). A test binary of
//! its own: SQLite's allocator can only be chosen before SQLite initialises, once per process.

use rusqlite::ffi;

#[test]
fn sqlite_allocates_with_mimalloc_once_configured_first() {
    // SAFETY: the one test of this binary: no other thread uses SQLite.
    unsafe {
        assert!(
            tern_store::sqlite::use_mimalloc(),
            "nothing initialised SQLite before"
        );
        // Asking again changes nothing and says the same.
        assert!(tern_store::sqlite::use_mimalloc());
    }
    let connection = rusqlite::Connection::open_in_memory().unwrap();
    let text: String = connection
        .query_row("SELECT printf('%.*c', 50000, 'x')", [], |row| row.get(0))
        .unwrap();
    assert_eq!(text.len(), 50000);
    // SAFETY: plain allocation calls; the pointer is freed once.
    unsafe {
        let pointer = ffi::sqlite3_malloc(1000);
        assert!(!pointer.is_null());
        assert!(libmimalloc_sys::mi_is_in_heap_region(pointer));
        assert!(ffi::sqlite3_msize(pointer) >= 1000);
        let grown = ffi::sqlite3_realloc(pointer, 100_000);
        assert!(libmimalloc_sys::mi_is_in_heap_region(grown));
        assert!(ffi::sqlite3_msize(grown) >= 100_000);
        ffi::sqlite3_free(grown);
    }
}
