/// A fixture file the test readers (`FixtureSafetensors`, `FixtureGGUF`) cannot read.
public struct FixtureError: Error, CustomStringConvertible {
    public let path: String
    public let detail: String
    public init(path: String, _ detail: String) {
        self.path = path
        self.detail = detail
    }
    public var description: String { "\(path): \(detail)" }
}
