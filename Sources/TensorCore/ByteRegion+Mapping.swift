extension ByteRegion {
    /// A whole file, mapped.
    public static func mapping(_ path: String) throws -> ByteRegion {
        let f = try MappedFile(path: path)
        return f.region(offset: 0, count: f.size)
    }
}
