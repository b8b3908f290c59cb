//! The driver API's C types and constants, mirrored from `cuda.h` (CUDA 13.0)
//! as cudarc 0.19's `sys` bindings spell them. The emu crate does not depend
//! on cudarc: these are our own definitions with the same ABI.

use std::ffi::{c_int, c_void, CStr};

/// `CUresult`: a `cudaError_enum` value. cudarc reads it as a `#[repr(u32)]`
/// enum, so only the codes listed below may ever be returned.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CUresult(pub u32);

/// `CUdevice`: a device ordinal.
pub type CUdevice = c_int;
/// `CUdeviceptr`: a device address.
pub type CUdeviceptr = u64;
/// `CUcontext`: an opaque handle.
pub type CUcontext = *mut c_void;
/// `CUstream`: an opaque handle; null, `0x1` (legacy) and `0x2` (per-thread) name the default stream.
pub type CUstream = *mut c_void;
/// `CUevent`: an opaque handle.
pub type CUevent = *mut c_void;
/// `CUmodule`: an opaque handle.
pub type CUmodule = *mut c_void;
/// `CUfunction`: an opaque handle.
pub type CUfunction = *mut c_void;
/// `CUgraph`: an opaque handle.
pub type CUgraph = *mut c_void;
/// `CUgraphExec`: an opaque handle.
pub type CUgraphExec = *mut c_void;
/// `CUmemoryPool`: an opaque handle.
pub type CUmemoryPool = *mut c_void;
/// `CUhostFn`: a host callback (`Option` is the nullable C function pointer).
pub type CUhostFn = Option<unsafe extern "C" fn(*mut c_void)>;
/// `CUoccupancyB2DSize`: block size to dynamic shared memory bytes.
pub type CUoccupancyB2DSize = Option<unsafe extern "C" fn(c_int) -> usize>;

/// `CUuuid`: 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CUuuid {
    /// The bytes.
    pub bytes: [std::ffi::c_char; 16],
}

const fn cstr(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("error table entry without a single trailing NUL"),
    }
}

macro_rules! results {
    ($($name:ident = $code:literal, $text:literal;)*) => {
        impl CUresult {
            $(
                #[doc = $text]
                pub const $name: CUresult = CUresult($code);
            )*

            /// `cuGetErrorName`'s answer, or None for a code the driver does not define.
            pub fn name(self) -> Option<&'static CStr> {
                match self.0 {
                    $($code => Some({ const C: &CStr = cstr(concat!(stringify!($name), "\0")); C }),)*
                    _ => None,
                }
            }

            /// `cuGetErrorString`'s answer, or None for a code the driver does not define.
            pub fn description(self) -> Option<&'static CStr> {
                match self.0 {
                    $($code => Some({ const C: &CStr = cstr(concat!($text, "\0")); C }),)*
                    _ => None,
                }
            }
        }
    };
}

results! {
    CUDA_SUCCESS = 0, "no error";
    CUDA_ERROR_INVALID_VALUE = 1, "invalid argument";
    CUDA_ERROR_OUT_OF_MEMORY = 2, "out of memory";
    CUDA_ERROR_NOT_INITIALIZED = 3, "initialization error";
    CUDA_ERROR_DEINITIALIZED = 4, "driver shutting down";
    CUDA_ERROR_PROFILER_DISABLED = 5, "profiler disabled while using external profiling tool";
    CUDA_ERROR_PROFILER_NOT_INITIALIZED = 6, "profiler not initialized: call cudaProfilerInitialize()";
    CUDA_ERROR_PROFILER_ALREADY_STARTED = 7, "profiler already started";
    CUDA_ERROR_PROFILER_ALREADY_STOPPED = 8, "profiler already stopped";
    CUDA_ERROR_STUB_LIBRARY = 34, "CUDA driver is a stub library";
    CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER = 36, "API call is not supported in the installed CUDA driver";
    CUDA_ERROR_DEVICE_UNAVAILABLE = 46, "CUDA-capable device(s) is/are busy or unavailable";
    CUDA_ERROR_NO_DEVICE = 100, "no CUDA-capable device is detected";
    CUDA_ERROR_INVALID_DEVICE = 101, "invalid device ordinal";
    CUDA_ERROR_DEVICE_NOT_LICENSED = 102, "device doesn't have valid Grid license";
    CUDA_ERROR_INVALID_IMAGE = 200, "device kernel image is invalid";
    CUDA_ERROR_INVALID_CONTEXT = 201, "invalid device context";
    CUDA_ERROR_CONTEXT_ALREADY_CURRENT = 202, "context already current";
    CUDA_ERROR_MAP_FAILED = 205, "mapping of buffer object failed";
    CUDA_ERROR_UNMAP_FAILED = 206, "unmapping of buffer object failed";
    CUDA_ERROR_ARRAY_IS_MAPPED = 207, "array is mapped";
    CUDA_ERROR_ALREADY_MAPPED = 208, "resource already mapped";
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209, "no kernel image is available for execution on the device";
    CUDA_ERROR_ALREADY_ACQUIRED = 210, "resource already acquired";
    CUDA_ERROR_NOT_MAPPED = 211, "resource not mapped";
    CUDA_ERROR_NOT_MAPPED_AS_ARRAY = 212, "resource not mapped as array";
    CUDA_ERROR_NOT_MAPPED_AS_POINTER = 213, "resource not mapped as pointer";
    CUDA_ERROR_ECC_UNCORRECTABLE = 214, "uncorrectable ECC error encountered";
    CUDA_ERROR_UNSUPPORTED_LIMIT = 215, "limit is not supported on this architecture";
    CUDA_ERROR_CONTEXT_ALREADY_IN_USE = 216, "exclusive-thread device already in use by a different thread";
    CUDA_ERROR_PEER_ACCESS_UNSUPPORTED = 217, "peer access is not supported between these two devices";
    CUDA_ERROR_INVALID_PTX = 218, "a PTX JIT compilation failed";
    CUDA_ERROR_INVALID_GRAPHICS_CONTEXT = 219, "invalid OpenGL or DirectX context";
    CUDA_ERROR_NVLINK_UNCORRECTABLE = 220, "uncorrectable NVLink error detected during the execution";
    CUDA_ERROR_JIT_COMPILER_NOT_FOUND = 221, "PTX JIT compiler library not found";
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222, "the provided PTX was compiled with an unsupported toolchain.";
    CUDA_ERROR_JIT_COMPILATION_DISABLED = 223, "PTX JIT compilation was disabled";
    CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY = 224, "the provided execution affinity is not supported";
    CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC = 225, "the provided PTX contains unsupported call to cudaDeviceSynchronize";
    CUDA_ERROR_CONTAINED = 226, "Invalid access of peer GPU memory over nvlink or a hardware error";
    CUDA_ERROR_INVALID_SOURCE = 300, "device kernel image is invalid";
    CUDA_ERROR_FILE_NOT_FOUND = 301, "file not found";
    CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND = 302, "shared object symbol not found";
    CUDA_ERROR_SHARED_OBJECT_INIT_FAILED = 303, "shared object initialization failed";
    CUDA_ERROR_OPERATING_SYSTEM = 304, "OS call failed or operation not supported on this OS";
    CUDA_ERROR_INVALID_HANDLE = 400, "invalid resource handle";
    CUDA_ERROR_ILLEGAL_STATE = 401, "the operation cannot be performed in the present state";
    CUDA_ERROR_LOSSY_QUERY = 402, "attempted introspection would be semantically lossy";
    CUDA_ERROR_NOT_FOUND = 500, "named symbol not found";
    CUDA_ERROR_NOT_READY = 600, "device not ready";
    CUDA_ERROR_ILLEGAL_ADDRESS = 700, "an illegal memory access was encountered";
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701, "too many resources requested for launch";
    CUDA_ERROR_LAUNCH_TIMEOUT = 702, "the launch timed out and was terminated";
    CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING = 703, "launch uses incompatible texturing mode";
    CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED = 704, "peer access is already enabled";
    CUDA_ERROR_PEER_ACCESS_NOT_ENABLED = 705, "peer access has not been enabled";
    CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE = 708, "cannot set while device is active in this process";
    CUDA_ERROR_CONTEXT_IS_DESTROYED = 709, "context is destroyed";
    CUDA_ERROR_ASSERT = 710, "device-side assert triggered";
    CUDA_ERROR_TOO_MANY_PEERS = 711, "peer mapping resources exhausted";
    CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712, "part or all of the requested memory range is already mapped";
    CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED = 713, "pointer does not correspond to a registered memory region";
    CUDA_ERROR_HARDWARE_STACK_ERROR = 714, "hardware stack error";
    CUDA_ERROR_ILLEGAL_INSTRUCTION = 715, "an illegal instruction was encountered";
    CUDA_ERROR_MISALIGNED_ADDRESS = 716, "misaligned address";
    CUDA_ERROR_INVALID_ADDRESS_SPACE = 717, "operation not supported on global/shared address space";
    CUDA_ERROR_INVALID_PC = 718, "invalid program counter";
    CUDA_ERROR_LAUNCH_FAILED = 719, "unspecified launch failure";
    CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE = 720, "too many blocks in cooperative launch";
    CUDA_ERROR_TENSOR_MEMORY_LEAK = 721, "tensor memory not completely freed";
    CUDA_ERROR_NOT_PERMITTED = 800, "operation not permitted";
    CUDA_ERROR_NOT_SUPPORTED = 801, "operation not supported";
    CUDA_ERROR_SYSTEM_NOT_READY = 802, "system not yet initialized";
    CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803, "system has unsupported display driver / cuda driver combination";
    CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804, "forward compatibility was attempted on non supported HW";
    CUDA_ERROR_MPS_CONNECTION_FAILED = 805, "MPS client failed to connect to the MPS control daemon or the MPS server";
    CUDA_ERROR_MPS_RPC_FAILURE = 806, "the remote procedural call between the MPS server and the MPS client failed";
    CUDA_ERROR_MPS_SERVER_NOT_READY = 807, "MPS server is not ready to accept new MPS client requests";
    CUDA_ERROR_MPS_MAX_CLIENTS_REACHED = 808, "the hardware resources required to create MPS client have been exhausted";
    CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED = 809, "the hardware resources required to support device connections have been exhausted";
    CUDA_ERROR_MPS_CLIENT_TERMINATED = 810, "the MPS client has been terminated by the server";
    CUDA_ERROR_CDP_NOT_SUPPORTED = 811, "is using CUDA Dynamic Parallelism, but the current configuration, like MPS, does not support it";
    CUDA_ERROR_CDP_VERSION_MISMATCH = 812, "unsupported interaction between different versions of CUDA Dynamic Parallelism";
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900, "operation not permitted when stream is capturing";
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901, "operation failed due to a previous error during capture";
    CUDA_ERROR_STREAM_CAPTURE_MERGE = 902, "operation would result in a merge of separate capture sequences";
    CUDA_ERROR_STREAM_CAPTURE_UNMATCHED = 903, "capture was not ended in the same stream as it began";
    CUDA_ERROR_STREAM_CAPTURE_UNJOINED = 904, "capturing stream has unjoined work";
    CUDA_ERROR_STREAM_CAPTURE_ISOLATION = 905, "dependency created on uncaptured work in another stream";
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906, "operation would make the legacy stream depend on a capturing blocking stream";
    CUDA_ERROR_CAPTURED_EVENT = 907, "operation not permitted on an event last recorded in a capturing stream";
    CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD = 908, "attempt to terminate a thread-local capture sequence from another thread";
    CUDA_ERROR_TIMEOUT = 909, "wait operation timed out";
    CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE = 910, "the graph update was not performed because it included changes which violated constraints specific to instantiated graph update";
    CUDA_ERROR_EXTERNAL_DEVICE = 911, "an async error has occurred in external entity outside of CUDA";
    CUDA_ERROR_INVALID_CLUSTER_SIZE = 912, "a kernel launch error has occurred due to cluster misconfiguration";
    CUDA_ERROR_FUNCTION_NOT_LOADED = 913, "the function handle is not loaded when calling an API that requires a loaded function";
    CUDA_ERROR_INVALID_RESOURCE_TYPE = 914, "one or more resources passed in are not valid resource types for the operation";
    CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION = 915, "one or more resources are insufficient or non-applicable for the operation";
    CUDA_ERROR_KEY_ROTATION = 916, "an error happened during the key rotation sequence";
    CUDA_ERROR_UNKNOWN = 999, "unknown error";
}

impl std::fmt::Debug for CUresult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({})", n.to_string_lossy(), self.0),
            None => write!(f, "CUresult({})", self.0),
        }
    }
}

impl std::fmt::Display for CUresult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// `CUdevice_attribute` numbers the emulator answers by name in code (the
/// rest of the table is in `attribute_value`).
pub mod attr {
    #![allow(missing_docs)]
    pub const MAX_THREADS_PER_BLOCK: i32 = 1;
    pub const MAX_SHARED_MEMORY_PER_BLOCK: i32 = 8;
    pub const WARP_SIZE: i32 = 10;
    pub const MULTIPROCESSOR_COUNT: i32 = 16;
    pub const L2_CACHE_SIZE: i32 = 38;
    pub const MAX_THREADS_PER_MULTIPROCESSOR: i32 = 39;
    pub const COMPUTE_CAPABILITY_MAJOR: i32 = 75;
    pub const COMPUTE_CAPABILITY_MINOR: i32 = 76;
    pub const MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: i32 = 81;
    pub const COOPERATIVE_LAUNCH: i32 = 95;
    pub const MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: i32 = 97;
    pub const MAX_BLOCKS_PER_MULTIPROCESSOR: i32 = 106;
    pub const MEMORY_POOLS_SUPPORTED: i32 = 115;
    /// One past the last attribute CUDA 13.0 defines.
    pub const MAX: i32 = 148;
}

/// `CUfunction_attribute` numbers.
pub mod func_attr {
    #![allow(missing_docs)]
    pub const MAX_THREADS_PER_BLOCK: i32 = 0;
    pub const SHARED_SIZE_BYTES: i32 = 1;
    pub const CONST_SIZE_BYTES: i32 = 2;
    pub const LOCAL_SIZE_BYTES: i32 = 3;
    pub const NUM_REGS: i32 = 4;
    pub const PTX_VERSION: i32 = 5;
    pub const BINARY_VERSION: i32 = 6;
    pub const CACHE_MODE_CA: i32 = 7;
    pub const MAX_DYNAMIC_SHARED_SIZE_BYTES: i32 = 8;
    pub const PREFERRED_SHARED_MEMORY_CARVEOUT: i32 = 9;
    pub const CLUSTER_SIZE_MUST_BE_SET: i32 = 10;
    pub const REQUIRED_CLUSTER_WIDTH: i32 = 11;
    pub const REQUIRED_CLUSTER_HEIGHT: i32 = 12;
    pub const REQUIRED_CLUSTER_DEPTH: i32 = 13;
    pub const NON_PORTABLE_CLUSTER_SIZE_ALLOWED: i32 = 14;
    pub const CLUSTER_SCHEDULING_POLICY_PREFERENCE: i32 = 15;
}

/// `CUstreamCaptureMode` values.
pub mod capture_mode {
    #![allow(missing_docs)]
    pub const GLOBAL: u32 = 0;
    pub const THREAD_LOCAL: u32 = 1;
    pub const RELAXED: u32 = 2;
}

/// `CUstreamCaptureStatus` values.
pub mod capture_status {
    #![allow(missing_docs)]
    pub const NONE: u32 = 0;
    pub const ACTIVE: u32 = 1;
    pub const INVALIDATED: u32 = 2;
}

/// `CUevent_flags` bits.
pub mod event_flags {
    #![allow(missing_docs)]
    pub const DEFAULT: u32 = 0;
    pub const BLOCKING_SYNC: u32 = 1;
    pub const DISABLE_TIMING: u32 = 2;
    pub const INTERPROCESS: u32 = 4;
}

/// `CUgraphInstantiate_flags` bits.
pub mod graph_flags {
    #![allow(missing_docs)]
    pub const AUTO_FREE_ON_LAUNCH: u64 = 1;
    pub const UPLOAD: u64 = 2;
    pub const DEVICE_LAUNCH: u64 = 4;
    pub const USE_NODE_PRIORITY: u64 = 8;
}

/// The driver version cuDriverGetVersion reports: CUDA 13.0, as the 580
/// driver of the project's H200 does (it JITs nvcc 13.0's PTX ISA 9.0).
pub const DRIVER_VERSION: c_int = 13000;

/// The newest PTX ISA this driver version accepts (9.0, as major·10 + minor).
pub const MAX_PTX_ISA: u32 = 90;

/// The device's name: it says it is emulated, so that no figure read beside
/// it is taken for a card's.
pub const DEVICE_NAME: &str = "mfcuda emulated GPU (PTX interpreter on the CPU; not a card)";

/// Bytes of shared memory per block without opting in.
pub const SHARED_PER_BLOCK: u32 = 48 << 10;
/// Bytes of shared memory per block with `MAX_DYNAMIC_SHARED_SIZE_BYTES` raised (sm_90: 227 KiB).
pub const SHARED_PER_BLOCK_OPTIN: u32 = 227 << 10;
/// Bytes of shared memory per SM (sm_90: 228 KiB).
pub const SHARED_PER_SM: u32 = 228 << 10;
/// Shared memory the system reserves per block (sm_90: 1 KiB).
pub const SHARED_RESERVED_PER_BLOCK: u32 = 1 << 10;
/// Most threads a block (and a launch's x dimension) may have.
pub const MAX_THREADS_PER_BLOCK: u32 = 1024;
/// L2 cache bytes an H200 reports (60 MiB).
pub const L2_BYTES: i32 = 60 << 20;

/// The value of device attribute `a` (None: not an attribute CUDA 13.0
/// defines). H200-like: an sm_90 part, with the SM count and memory from the
/// emulator's settings. Features the emulator does not implement (managed
/// memory, clusters, tensor maps, virtual memory management, IPC, ...) answer 0.
pub fn attribute_value(a: c_int, sms: u32) -> Option<c_int> {
    let v = match a {
        1 => 1024,      // MAX_THREADS_PER_BLOCK
        2 | 3 => 1024,  // MAX_BLOCK_DIM_X, _Y
        4 => 64,        // MAX_BLOCK_DIM_Z
        5 => i32::MAX,  // MAX_GRID_DIM_X
        6 | 7 => 65535, // MAX_GRID_DIM_Y, _Z
        8 => SHARED_PER_BLOCK as i32,
        9 => 65536,        // TOTAL_CONSTANT_MEMORY
        10 => 32,          // WARP_SIZE
        11 => i32::MAX,    // MAX_PITCH
        12 => 65536,       // MAX_REGISTERS_PER_BLOCK
        13 => 1_980_000,   // CLOCK_RATE (kHz)
        14 => 512,         // TEXTURE_ALIGNMENT
        15 => 1,           // GPU_OVERLAP
        16 => sms as i32,  // MULTIPROCESSOR_COUNT
        17 | 18 => 0,      // KERNEL_EXEC_TIMEOUT, INTEGRATED
        19 => 1,           // CAN_MAP_HOST_MEMORY
        20 => 0,           // COMPUTE_MODE (default)
        21 | 22 => 131072, // MAXIMUM_TEXTURE1D_WIDTH, 2D_WIDTH
        23 => 65536,
        24..=26 => 16384,
        27 | 28 => 32768,
        29 => 2048,
        30 => 512,       // SURFACE_ALIGNMENT
        31 => 1,         // CONCURRENT_KERNELS
        32 => 1,         // ECC_ENABLED
        33..=35 => 0,    // PCI_BUS_ID, PCI_DEVICE_ID, TCC_DRIVER
        36 => 3_201_000, // MEMORY_CLOCK_RATE (kHz)
        37 => 6144,      // GLOBAL_MEMORY_BUS_WIDTH
        38 => L2_BYTES,
        39 => 2048, // MAX_THREADS_PER_MULTIPROCESSOR
        40 => 3,    // ASYNC_ENGINE_COUNT
        41 => 1,    // UNIFIED_ADDRESSING
        42 => 32768,
        43 => 2048,
        44 => 1,
        45 | 46 => 32768,
        47 | 48 => 8192,
        49 => 32768,
        50 => 0,  // PCI_DOMAIN_ID
        51 => 32, // TEXTURE_PITCH_ALIGNMENT
        52 | 53 => 32768,
        54 => 2046,
        55 => 32768,
        56 => 131072,
        57 => 65536,
        58..=60 => 16384,
        61 => 32768,
        62 => 2048,
        63 | 64 => 32768,
        65 => 2048,
        66 | 67 => 32768,
        68 => 2046,
        69 => 268_435_456,
        70 => 131072,
        71 => 65000,
        72 => 2_097_120,
        73 | 74 => 32768,
        75 => 9, // COMPUTE_CAPABILITY_MAJOR
        76 => 0, // COMPUTE_CAPABILITY_MINOR
        77 => 32768,
        78..=80 => 1, // STREAM_PRIORITIES, GLOBAL_L1, LOCAL_L1
        81 => SHARED_PER_SM as i32,
        82 => 65536, // MAX_REGISTERS_PER_MULTIPROCESSOR
        83 => 0,     // MANAGED_MEMORY: not emulated
        84 | 85 => 0,
        86 => 0,      // HOST_NATIVE_ATOMIC_SUPPORTED
        87 => 2,      // SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO
        88 | 89 => 0, // PAGEABLE_MEMORY_ACCESS, CONCURRENT_MANAGED_ACCESS
        90 => 1,      // COMPUTE_PREEMPTION_SUPPORTED
        91..=94 => 0,
        95 => 1, // COOPERATIVE_LAUNCH
        96 => 0, // COOPERATIVE_MULTI_DEVICE_LAUNCH
        97 => SHARED_PER_BLOCK_OPTIN as i32,
        98..=105 => 0,
        106 => 32, // MAX_BLOCKS_PER_MULTIPROCESSOR
        107..=110 => 0,
        111 => SHARED_RESERVED_PER_BLOCK as i32,
        112..=114 => 0,
        115 => 1, // MEMORY_POOLS_SUPPORTED: cudarc then allocates with cuMemAllocAsync, as on an H200
        116..=125 => 0,
        126 => 1, // MEM_SYNC_DOMAIN_COUNT
        127..=130 => 0,
        131 => -1, // NUMA_ID
        132 | 133 => 0,
        134 => -1, // HOST_NUMA_ID
        135..=147 => 0,
        _ => return None,
    };
    Some(v)
}
