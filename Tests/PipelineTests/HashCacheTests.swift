import Foundation
import ModelFile
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

final class HashCacheTests: XCTestCase {
    /// sha256("abc"), FIPS 180-2's first example.
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    /// The ladder's in-process digests: a file just written (too young for the disk cache) is
    /// hashed once, and a digest is dropped as soon as the file changes.
    func testKnownDigestsHoldWhileTheFileIsUnchanged() throws {
        let dir = TempDir()
        let f = dir.write("base.tmt", Array("abc".utf8))
        var known = KnownDigests()
        try known.add(file: f, cache: HashCache(directory: dir.file("cache")))
        XCTAssertEqual(known.digest(file: f), abc)
        XCTAssertNil(HashCache(directory: dir.file("cache")).cached(file: f), "too young for the disk cache")
        XCTAssertNil(known.digest(file: dir.file("other")))
        _ = dir.write("base.tmt", Array("abd".utf8))
        XCTAssertNil(known.digest(file: f), "rewritten: the identity moved")
    }

    /// Files here are hashed 0.2 s after their last change; the cache waits 0.1 s.
    func settle() { Thread.sleep(forTimeInterval: 0.2) }

    func testRemembersUntilTheFileChanges() throws {
        let dir = TempDir()
        let cache = HashCache(directory: dir.file("cache"), racyWindow: 0.1)
        let f = dir.write("weights.bin", Array("abc".utf8))
        settle()
        XCTAssertNil(cache.cached(file: f))
        var r = try cache.sha256(file: f)
        XCTAssertEqual(r.digest, abc)
        XCTAssertFalse(r.cached)
        XCTAssertEqual(cache.cached(file: f), abc, "the cheap lookup quantize uses to decide whether a thread will hash")
        r = try cache.sha256(file: f)
        XCTAssertEqual(r.digest, abc)
        XCTAssertTrue(r.cached, "second lookup of an unchanged file")
        // Same size, new contents: the change time moves, so the entry misses.
        _ = dir.write("weights.bin", Array("abd".utf8))
        settle()
        XCTAssertNil(cache.cached(file: f))
        r = try cache.sha256(file: f)
        XCTAssertFalse(r.cached)
        XCTAssertEqual(r.digest, try TensorValues.sha256(file: f))
        XCTAssertNotEqual(r.digest, abc)
    }

    /// A file changed just now could change again within the same tick of the file times
    /// without them moving: its digest is not remembered yet.
    func testRecentlyChangedFileIsNotRemembered() throws {
        let dir = TempDir()
        let cache = HashCache(directory: dir.file("cache"), racyWindow: 60)
        try assertHashedEveryTime(cache, dir.write("weights.bin", Array("abc".utf8)))
    }

    /// Two lookups, both computed (none served from the cache), both right.
    func assertHashedEveryTime(_ cache: HashCache, _ f: String, line: UInt = #line) throws {
        for _ in 0..<2 {
            let r = try cache.sha256(file: f)
            XCTAssertEqual(r.digest, abc, line: line)
            XCTAssertFalse(r.cached, line: line)
        }
    }

    func testDamagedEntryIsRecomputed() throws {
        let dir = TempDir()
        let cache = HashCache(directory: dir.file("cache"), racyWindow: 0.1)
        let f = dir.write("weights.bin", Array("abc".utf8))
        settle()
        _ = try cache.sha256(file: f)
        let key = try XCTUnwrap(HashCache.identity(f)?.key)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("cache/\(key)")))
        try Data("not a digest\n".utf8).write(to: URL(fileURLWithPath: dir.file("cache/\(key)")))
        let r = try cache.sha256(file: f)
        XCTAssertEqual(r.digest, abc)
        XCTAssertFalse(r.cached)
    }

    func testUnwritableCacheStillHashes() throws {
        let dir = TempDir()
        let blocker = dir.write("cache", [1])          // a file where the directory would go
        // A short racy window and a settled file: only the unwritable directory keeps the
        // digest out of the cache (with the default 2 s window this passed for another reason).
        let cache = HashCache(directory: blocker + "/sha256", racyWindow: 0.1)
        let f = dir.write("weights.bin", Array("abc".utf8))
        settle()
        try assertHashedEveryTime(cache, f)
    }

    /// The quantizer records a digest from the cache as such; the digest is the file's.
    func testQuantizeRecordsCachedDigest() throws {
        let dir = TempDir()
        let source = Fixtures.tinyMistral("hf-safetensors-f32")
        var o = Quantizer.Options(recipe: try Recipe.preset("q8_0", layers: 2))
        o.hashCache = HashCache(directory: dir.file("cache"), racyWindow: 0.1)   // the fixture is old
        var sources: [[JSONValue]] = []
        for i in 0..<2 {
            let out = dir.file("q\(i).tmt")
            _ = try Quantizer.quantize(source, to: out, options: o)
            sources.append(try XCTUnwrap(TMTFile(path: out).metadata["provenance"]?["sources"]?.arrayValue))
        }
        let weights = try XCTUnwrap(sources[1].first { $0["path"]?.stringValue?.hasSuffix(".safetensors") == true })
        let path = try XCTUnwrap(weights["path"]?.stringValue)
        XCTAssertEqual(weights["sha256"]?.stringValue, try TensorValues.sha256(file: path))
        XCTAssertEqual(weights["sha256_cached"], .bool(true))
        XCTAssertNil(sources[0].first { $0["path"]?.stringValue == path }?["sha256_cached"], "first run hashes")
    }
}
