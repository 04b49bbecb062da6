package dev.ollamapatch.ollama;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.SectionHeader;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The Go build information the Go linker writes into section {@code .go.buildinfo}: the Go version,
 * the main package and module, the dependencies and the build settings ({@code go version -m}).
 *
 * <p>Layout (Go's {@code debug/buildinfo}): a 32-byte header, 16-byte aligned, starting with the
 * 14 magic bytes {@code "\xff Go buildinf:"}, then the pointer size (byte 14) and flags (byte 15;
 * bit 0: big-endian pointers, bit 1: strings inline). Since Go 1.18 (bit 1 set) the header is
 * followed by two strings, each an unsigned varint length and the bytes: the Go version, then the
 * module information. Before 1.18, bytes 16 and 16+ptrSize hold pointers to two Go string headers
 * {pointer, length}. The module information is framed by 16 sentinel bytes at each end and holds
 * tab-separated lines: {@code path}, {@code mod}, {@code dep}, {@code =>} and {@code build key=value}.
 *
 * @param goVersion   e.g. {@code go1.22.5}
 * @param path        the main package's import path
 * @param mainModule  the main module's path, or null
 * @param mainVersion the main module's version ({@code (devel)} when built outside a tagged checkout), or null
 * @param settings    {@code build} lines in order: {@code -ldflags}, {@code -trimpath}, {@code CGO_ENABLED}, ...
 * @param offset      file offset of the header
 */
public record GoBuildInfo(String goVersion, String path, String mainModule, String mainVersion,
                          Map<String, String> settings, long offset) {
    static final byte[] MAGIC = "\u00ff Go buildinf:".getBytes(StandardCharsets.ISO_8859_1);
    private static final int HEADER_SIZE = 32;
    /** A string in the build information longer than this is not believed. */
    private static final int MAX_STRING = 1 << 20;

    public GoBuildInfo {
        settings = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }

    /**
     * The build information of {@code elf}, or empty when it has none (not a Go program, or a
     * header this reader does not understand: then nothing is claimed).
     */
    public static Optional<GoBuildInfo> read(ElfFile elf) {
        Optional<SectionHeader> section = elf.section(".go.buildinfo");
        if (section.isEmpty() || !section.get().hasFileData() || section.get().size() < HEADER_SIZE) {
            return Optional.empty();
        }
        SectionHeader s = section.get();
        ByteBuffer data = elf.sectionData(s);
        // The linker aligns the header to 16 bytes; it is the section's start in every Go release.
        for (int at = 0; at + HEADER_SIZE <= data.limit() && at < 4096; at += 16) {
            if (!startsWithMagic(data, at)) continue;
            int ptrSize = data.get(at + 14) & 0xff;
            int flags = data.get(at + 15) & 0xff;
            String[] strings = (flags & 2) != 0 ? inline(data, at + HEADER_SIZE)
                    : pointed(elf, data, at, ptrSize, (flags & 1) != 0);
            if (strings == null || strings[0].isEmpty()) return Optional.empty();
            return Optional.of(parse(strings[0], strings[1], s.offset() + at));
        }
        return Optional.empty();
    }

    private static boolean startsWithMagic(ByteBuffer b, int at) {
        for (int i = 0; i < MAGIC.length; i++) if (b.get(at + i) != MAGIC[i]) return false;
        return true;
    }

    /** Go 1.18+: two varint-prefixed strings right after the header. */
    private static String[] inline(ByteBuffer b, int at) {
        String[] out = new String[2];
        int[] pos = {at};
        for (int k = 0; k < 2; k++) {
            long len = uvarint(b, pos);
            if (len < 0 || len > MAX_STRING || pos[0] + len > b.limit()) return null;
            byte[] bytes = new byte[(int) len];
            b.get(pos[0], bytes);
            pos[0] += (int) len;
            out[k] = new String(bytes, StandardCharsets.ISO_8859_1); // bytes as chars; UTF-8 after framing
        }
        return out;
    }

    /** encoding/binary's Uvarint: 7 bits a byte, low first, high bit set on every byte but the last. */
    private static long uvarint(ByteBuffer b, int[] pos) {
        long v = 0;
        for (int shift = 0; shift < 64 && pos[0] < b.limit(); shift += 7) {
            int c = b.get(pos[0]++) & 0xff;
            v |= (long) (c & 0x7f) << shift;
            if ((c & 0x80) == 0) return v;
        }
        return -1;
    }

    /** Before Go 1.18: pointers (at header bytes 16 and 16+ptrSize) to Go string headers {pointer, length}. */
    private static String[] pointed(ElfFile elf, ByteBuffer b, int at, int ptrSize, boolean bigEndian) {
        if (ptrSize != 4 && ptrSize != 8) return null;
        ByteBuffer h = b.duplicate().order(bigEndian ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        String[] out = new String[2];
        for (int k = 0; k < 2; k++) {
            long header = word(h, at + 16 + k * ptrSize, ptrSize);
            String s = goString(elf, header, ptrSize, bigEndian);
            if (s == null) return null;
            out[k] = s;
        }
        return out;
    }

    private static String goString(ElfFile elf, long headerVaddr, int ptrSize, boolean bigEndian) {
        OptionalLong headerOff = elf.fileOffsetOf(headerVaddr);
        if (headerOff.isEmpty() || headerOff.getAsLong() + 2L * ptrSize > elf.bytes().size()) return null;
        byte[] hb = new byte[2 * ptrSize];
        elf.bytes().read(headerOff.getAsLong(), hb, 0, hb.length);
        ByteBuffer h = ByteBuffer.wrap(hb).order(bigEndian ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        long ptr = word(h, 0, ptrSize), len = word(h, ptrSize, ptrSize);
        if (len < 0 || len > MAX_STRING) return null;
        OptionalLong off = elf.fileOffsetOf(ptr);
        if (off.isEmpty() || off.getAsLong() + len > elf.bytes().size()) return null;
        byte[] s = new byte[(int) len];
        elf.bytes().read(off.getAsLong(), s, 0, s.length);
        return new String(s, StandardCharsets.ISO_8859_1);
    }

    private static long word(ByteBuffer b, int at, int size) {
        return size == 8 ? b.getLong(at) : Integer.toUnsignedLong(b.getInt(at));
    }

    /** The module information's lines (runtime/debug.ParseBuildInfo's format), sentinels removed. */
    static GoBuildInfo parse(String goVersion, String modinfo, long offset) {
        // 16 sentinel bytes frame the text at each end; they are not UTF-8 text, so strip by length.
        String text = modinfo.length() >= 33 && modinfo.charAt(modinfo.length() - 17) == '\n'
                ? modinfo.substring(16, modinfo.length() - 16) : modinfo;
        text = new String(text.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
        goVersion = new String(goVersion.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
        String path = null, mod = null, version = null;
        Map<String, String> settings = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            String[] f = line.split("\t");
            switch (f[0]) {
                case "path" -> path = f.length > 1 ? f[1] : null;
                case "mod" -> {
                    mod = f.length > 1 ? f[1] : null;
                    version = f.length > 2 ? f[2] : null;
                }
                case "build" -> {
                    if (f.length > 1) {
                        String kv = f[1];
                        int eq = kv.indexOf('=');
                        // A key may be quoted when it holds '=' (Go's quoteKey); Go's own keys never do.
                        if (eq > 0) settings.put(kv.substring(0, eq), unquote(kv.substring(eq + 1)));
                    }
                }
                default -> { }
            }
        }
        return new GoBuildInfo(goVersion, path, mod, version, settings, offset);
    }

    /** Values with spaces, tabs, quotes or newlines are written as Go quoted strings. */
    private static String unquote(String v) {
        if (v.length() < 2 || v.charAt(0) != '"' || v.charAt(v.length() - 1) != '"') return v;
        StringBuilder b = new StringBuilder();
        for (int i = 1; i < v.length() - 1; i++) {
            char c = v.charAt(i);
            if (c == '\\' && i + 1 < v.length() - 1) {
                char n = v.charAt(++i);
                b.append(switch (n) { case 'n' -> '\n'; case 't' -> '\t'; default -> n; });
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /**
     * The value given with {@code -X=IMPORTPATH.Version=VALUE} (or {@code -X IMPORTPATH.Version=VALUE})
     * in the recorded {@code -ldflags}, for the variable {@code variable} (e.g.
     * {@code github.com/ollama/ollama/version.Version}). Go records -ldflags only for builds without
     * {@code -trimpath} (release builds use it, so this is usually absent).
     */
    public Optional<String> linkerValue(String variable) {
        String ldflags = settings.get("-ldflags");
        if (ldflags == null) return Optional.empty();
        List<String> words = new ArrayList<>(List.of(ldflags.trim().split("\\s+")));
        String found = null;
        for (int i = 0; i < words.size(); i++) {
            String w = words.get(i).replace("\"", "").replace("'", "");
            String arg = null;
            if (w.equals("-X") || w.equals("--X")) arg = i + 1 < words.size() ? words.get(i + 1) : null;
            else if (w.startsWith("-X=")) arg = w.substring(3);
            else if (w.startsWith("--X=")) arg = w.substring(4);
            if (arg == null) continue;
            arg = arg.replace("\"", "").replace("'", "");
            if (arg.startsWith(variable + "=")) found = arg.substring(variable.length() + 1); // the last -X wins
        }
        return Optional.ofNullable(found);
    }
}
