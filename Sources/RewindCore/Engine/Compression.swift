import CZlib

/// Document blocks are zlib streams (deflate level 1): bank documents compress 8.5× in blocks of
/// 256 (82 MB of text → 9.7 MB at 1M events, 0.24 s to compress), and a block inflates in tens
/// of microseconds. zlib is on every machine that has a C toolchain; Swift has no compression of
/// its own on Linux.
enum Compression {
    static func deflate(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        guard deflateInit_(&stream, 1, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            fatalError("zlib: deflateInit failed")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst -> Int in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                let rc = CZlib.deflate(&stream, Z_FINISH)
                precondition(rc == Z_STREAM_END, "zlib: deflate did not finish (\(rc))")
                return dst.count - Int(stream.avail_out)
            }
        }
        out.removeLast(out.count - written)
        return out
    }

    /// Inflates exactly `rawLength` bytes, or returns nil (damaged input).
    static func inflate(_ input: UnsafeRawBufferPointer, rawLength: Int) -> [UInt8]? {
        guard rawLength >= 0, rawLength <= 1 << 30 else { return nil }
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: rawLength)
        let ok = out.withUnsafeMutableBufferPointer { dst -> Bool in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = dst.baseAddress
            stream.avail_out = uInt(dst.count)
            let rc = CZlib.inflate(&stream, Z_FINISH)
            return rc == Z_STREAM_END && stream.avail_out == 0 && stream.avail_in == 0
        }
        return ok ? out : nil
    }
}
