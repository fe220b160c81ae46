import TensorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// OpenBLAS's `cblas_sgemm`, loaded with `dlopen` when the first model is built instead of
/// linked. A linked OpenBLAS starts its thread pool in a library constructor, before `main`, and
/// the idle thread spins in `sched_yield` for about 0.1 s of a core — in every command, also in
/// `quantize` and `convert`, which never multiply matrices (SmolLM2's Q4_1 quantization: 0.08 s
/// of system time, a tenth of its wall time, on 2 cores). Loaded here with
/// `OPENBLAS_NUM_THREADS=1`, OpenBLAS starts no thread at all: every call runs inside one of
/// our workers on its own part of the work. Commands that run no model need no OpenBLAS.
enum BLAS {
    /// `cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)`.
    typealias Sgemm = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void

    // cblas.h's enum values.
    static let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112

    /// The library names tried in order (the soname Debian's `libopenblas0` installs first).
    static let libraries = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"]

    static let loaded: Result<Sgemm, InferenceError> = load()

    /// Throws, saying how to install it, if OpenBLAS cannot be loaded.
    static func require() throws(InferenceError) { _ = try loaded.get() }

    private static func load() -> Result<Sgemm, InferenceError> {
        // The one process-wide setting the package makes: OpenBLAS's constructor reads it when the
        // library loads (no call can stop the thread pool it starts otherwise, which spins a core
        // at every start); our workers run sgemm on one thread each.
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        var tried: [String] = []
        for name in libraries {
            let handle: UnsafeMutableRawPointer
            switch Syscalls.loadLibrary(name) {
            case .success(let h): handle = h
            case .failure(let e): tried.append(e.detail ?? name); continue
            }
            guard let f = Syscalls.symbol(handle, "cblas_sgemm") else {
                tried.append("\(name) has no cblas_sgemm")
                continue
            }
            // If something else had loaded OpenBLAS already, its pool exists: make it one thread.
            if let s = Syscalls.symbol(handle, "openblas_set_num_threads") { unsafeBitCast(s, to: SetThreads.self)(1) }
            return .success(unsafeBitCast(f, to: Sgemm.self))
        }
        return .failure(.unsupported("OpenBLAS is needed to run a model and could not be loaded (\(tried.joined(separator: "; "))); "
                                     + "on Debian: apt-get install libopenblas0"))
    }

    /// C[M, N] = alpha · A[M, K] · op(B) + beta · C, row-major; op(B) = Bᵀ (B is [N, K]) when
    /// `transposeB`, else B ([K, N]). Every caller runs inside a `Transformer`, whose
    /// initialiser has called `require()`.
    @inline(__always)
    static func sgemm(transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float, _ a: UnsafePointer<Float>, lda: Int,
                      _ b: UnsafePointer<Float>, ldb: Int, beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard case .success(let f) = loaded else { return }
        f(rowMajor, noTrans, transposeB ? trans : noTrans, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
