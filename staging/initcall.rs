// SPDX-License-Identifier: GPL-2.0

//! Built-in initcalls and early boot parameters.
//!
//! C header: [`include/linux/init.h`](srctree/include/linux/init.h).
//!
//! [`builtin_init!`] emits what C's initcalls and `early_param` emit;
//! [`builtin_module!`] declares a built-in crate's `LocalModule`.

use kernel::prelude::*;

/// An entry of `.init.setup`, laid out as C's `struct obs_kernel_param`.
#[repr(C)]
pub(crate) struct ObsKernelParam {
    /// The parameter name, NUL-terminated.
    pub(crate) name: *const c_char,
    /// Called with the parameter's value (NULL when it has none).
    pub(crate) setup: unsafe extern "C" fn(*mut c_char) -> c_int,
    /// Non-zero for `early_param`.
    pub(crate) early: c_int,
}

// SAFETY: the entry is immutable and only read by the boot code.
unsafe impl Sync for ObsKernelParam {}

/// Registers a built-in initcall or early boot parameter.
///
/// ```ignore
/// builtin_init!(late_initcall, liveupdate_late_init_rs, late_init);
/// builtin_init!(early_param "liveupdate", liveupdate_param_rs, parse_param);
/// ```
///
/// The second argument names the generated C-callable symbol (unique in
/// vmlinux); the third is `fn() -> Result` for an initcall,
/// `fn(Option<&CStr>) -> Result` for a parameter (`None` without `=value`).
macro_rules! builtin_init {
    (@initcall $section:literal, $sym:ident, $f:path) => {
        #[no_mangle]
        #[link_section = ".init.text"]
        extern "C" fn $sym() -> ::kernel::ffi::c_int {
            ::kernel::error::from_result(|| $f().map(|()| 0))
        }

        #[cfg(CONFIG_HAVE_ARCH_PREL32_RELOCATIONS)]
        ::core::arch::global_asm!(::core::concat!(
            ".section \"", $section, "\", \"a\"\n",
            ".balign 4\n",
            ".long ", ::core::stringify!($sym), " - .\n",
            ".previous\n"
        ));

        #[cfg(not(CONFIG_HAVE_ARCH_PREL32_RELOCATIONS))]
        const _: () = {
            #[used]
            #[link_section = $section]
            static ENTRY: extern "C" fn() -> ::kernel::ffi::c_int = $sym;
        };
    };
    (early_initcall, $sym:ident, $f:path) => {
        $crate::staging::initcall::builtin_init!(@initcall ".initcallearly.init", $sym, $f);
    };
    (late_initcall, $sym:ident, $f:path) => {
        $crate::staging::initcall::builtin_init!(@initcall ".initcall7.init", $sym, $f);
    };
    (early_param $name:literal, $sym:ident, $f:path) => {
        /// The `early_param` handler called by the boot code.
        ///
        /// # Safety
        ///
        /// `val` is NULL or a NUL-terminated string valid for the call.
        #[no_mangle]
        #[link_section = ".init.text"]
        unsafe extern "C" fn $sym(val: *mut ::kernel::ffi::c_char) -> ::kernel::ffi::c_int {
            let val = if val.is_null() {
                None
            } else {
                // SAFETY: the boot code passes a NUL-terminated string that outlives this call.
                Some(unsafe { ::kernel::str::CStr::from_char_ptr(val) })
            };
            ::kernel::error::from_result(|| $f(val).map(|()| 0))
        }

        const _: () = {
            #[used]
            #[link_section = ".init.setup"]
            static PARAM: $crate::staging::initcall::ObsKernelParam = $crate::staging::initcall::ObsKernelParam {
                name: ::kernel::str::as_char_ptr_in_const_context(::kernel::c_str!($name)),
                setup: $sym,
                early: 1,
            };
        };
    };
}
pub(crate) use builtin_init;

/// Declares `LocalModule` for a built-in crate without `module!`, as the
/// kernel crate's abstractions (miscdevice, ...) expect at the crate root.
macro_rules! builtin_module {
    ($name:literal) => {
        /// The crate is built in: no module owns its files or devices.
        struct LocalModule;

        impl ::kernel::ModuleMetadata for LocalModule {
            const NAME: &'static ::kernel::str::CStr = ::kernel::c_str!($name);
            const THIS_MODULE: ::kernel::ThisModule =
                // SAFETY: NULL is what `THIS_MODULE` is for built-in code.
                unsafe { ::kernel::ThisModule::from_ptr(::core::ptr::null_mut()) };
        }
    };
}
pub(crate) use builtin_module;
