package dev.ollamapatch.doctor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads glibc's {@code /etc/ld.so.cache} ("glibc-ld.so.cache1.1", written by ldconfig), the table
 * the dynamic loader consults for a bare library name before its default directories. Layout from
 * glibc's {@code sysdeps/generic/dl-cache.h}: a 48-byte header (magic "glibc-ld.so.cache", version
 * "1.1", nlibs, len_strings, flags, padding, extension_offset, unused[3]) then nlibs 24-byte entries
 * {int32 flags; uint32 key; uint32 value; uint32 osversion; uint64 hwcap}; key and value are
 * offsets of NUL-terminated strings from the start of that header. An old-format table
 * ("ld.so-1.7.0") may come first; the new one follows it.
 */
final class LdSoCache {
    private static final byte[] MAGIC = "glibc-ld.so.cache1.1".getBytes(StandardCharsets.ISO_8859_1);
    private static final int HEADER = 48;
    private static final int ENTRY = 24;
    private static final long MAX_SIZE = 64L << 20;

    /** One entry: the name, the path, and the flags that say which ABI (machine) it is for. */
    record Entry(String key, String value, int flags) {
        /** dl-cache.h: FLAG_X8664_LIB64 0x0300, FLAG_AARCH64_LIB64 0x0a00 (bits 8-15 of flags). */
        boolean matches(String machine) {
            int abi = flags & 0xff00;
            return switch (machine == null ? "" : machine) {
                case "x86_64" -> abi == 0x0300;
                case "aarch64" -> abi == 0x0a00;
                default -> true;
            };
        }
    }

    private LdSoCache() {}

    static List<Entry> read(Path file) throws IOException {
        if (Files.size(file) > MAX_SIZE) throw new IOException(file + ": larger than any loader cache");
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.nativeOrder());
        int base = find(b);
        if (base < 0) throw new IOException(file + ": not a glibc ld.so.cache (no " + new String(MAGIC, StandardCharsets.ISO_8859_1) + ")");
        long nlibs = Integer.toUnsignedLong(b.getInt(base + 20));
        List<Entry> out = new ArrayList<>();
        for (long i = 0; i < nlibs; i++) {
            long at = base + HEADER + i * ENTRY;
            if (at + ENTRY > b.limit()) throw new IOException(file + ": entry " + i + " runs past the end");
            int flags = b.getInt((int) at);
            String key = string(b, base + Integer.toUnsignedLong(b.getInt((int) at + 4)));
            String value = string(b, base + Integer.toUnsignedLong(b.getInt((int) at + 8)));
            if (key != null && value != null) out.add(new Entry(key, value, flags));
        }
        return out;
    }

    /** Offset of the new-format header: at 0, or after an old-format table (searched in its first part). */
    private static int find(ByteBuffer b) {
        int limit = Math.min(b.limit() - HEADER, 1 << 20);
        outer:
        for (int i = 0; i <= limit; i += 4) {
            for (int j = 0; j < MAGIC.length; j++) if (b.get(i + j) != MAGIC[j]) continue outer;
            return i;
        }
        return -1;
    }

    private static String string(ByteBuffer b, long off) {
        if (off < 0 || off >= b.limit()) return null;
        int end = (int) off;
        while (end < b.limit() && b.get(end) != 0) end++;
        byte[] s = new byte[end - (int) off];
        b.get((int) off, s);
        return new String(s, StandardCharsets.ISO_8859_1);
    }
}
