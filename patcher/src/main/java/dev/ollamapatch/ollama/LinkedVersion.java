package dev.ollamapatch.ollama;

import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.RelativeRelocations;
import dev.ollamapatch.elf.SectionHeader;
import dev.ollamapatch.elf.Symbol;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The version string set at link time with {@code -X <module>/version.Version=VALUE}, read from the
 * binary and said with how it was found.
 *
 * <p>How the Go linker stores it (cmd/link, {@code addstrdata}): VALUE goes into read-only data as a
 * symbol of its own, <em>followed by a NUL byte</em> ({@code Addstring} appends one; ordinary Go
 * string literals are packed without terminators), and the variable, moved to {@code .data}, becomes
 * the string header {pointer, length} pointing at it (in a position-independent file the pointer is a
 * RELATIVE relocation). So, in order of proof:
 * <ol>
 * <li>with a symbol table: the variable named {@code .../version.Version} and the string its header points at;
 * <li>with {@code -ldflags} recorded in the Go build information (builds without {@code -trimpath}): the
 *     value given there;
 * <li>stripped ({@code -s -w}, as Ollama's releases are): the string headers in {@code .data} whose
 *     pointer is a relocation (or, in a fixed-address file, an address) into read-only data and whose
 *     string is version-shaped and NUL-terminated: the form only a linker-set string has. One such
 *     header is reported as the version with that evidence; several are reported as candidates, and
 *     no version is claimed.
 * </ol>
 */
public final class LinkedVersion {
    /** The variable Ollama's release build sets. */
    public static final String OLLAMA_VARIABLE = "github.com/ollama/ollama/version.Version";
    private static final int MAX_LEN = 48;

    private LinkedVersion() {}

    /**
     * @param value      the version text, or null when not proven
     * @param source     how it was found (for reports)
     * @param candidates when the heuristic found more than one: every candidate with where it is
     */
    public record Reading(String value, String source, List<String> candidates) {
        public Reading {
            candidates = List.copyOf(candidates);
        }
    }

    public static Optional<Reading> read(ElfFile elf, Optional<GoBuildInfo> info) {
        Optional<Reading> bySymbol = bySymbol(elf, info);
        if (bySymbol.isPresent()) return bySymbol;
        if (info.isPresent()) {
            String module = info.get().mainModule();
            for (String variable : variables(module)) {
                Optional<String> v = info.get().linkerValue(variable);
                if (v.isPresent()) {
                    return Optional.of(new Reading(v.get(), "-ldflags recorded in the Go build information (-X "
                            + variable + ")", List.of()));
                }
            }
        }
        return byHeuristic(elf);
    }

    private static List<String> variables(String module) {
        List<String> out = new ArrayList<>();
        out.add(OLLAMA_VARIABLE);
        if (module != null && !module.equals("github.com/ollama/ollama")) out.add(module + "/version.Version");
        return out;
    }

    private static Optional<Reading> bySymbol(ElfFile elf, Optional<GoBuildInfo> info) {
        List<String> names = variables(info.map(GoBuildInfo::mainModule).orElse(null));
        List<Symbol> symbols;
        try {
            symbols = elf.symbols();
        } catch (RuntimeException e) {
            return Optional.empty(); // a malformed symbol table proves nothing; the other ways still apply
        }
        for (Symbol s : symbols) {
            if (!names.contains(s.name()) || s.shndx() == 0) continue;
            String value = stringAt(elf, s.value());
            if (value != null) {
                return Optional.of(new Reading(value, String.format("symbol %s, string header at vaddr 0x%x",
                        s.name(), s.value()), List.of()));
            }
        }
        return Optional.empty();
    }

    /** The Go string whose header is at {@code vaddr}; null when it cannot be read. */
    private static String stringAt(ElfFile elf, long vaddr) {
        int w = elf.is64() ? 8 : 4;
        OptionalLong off = elf.fileOffsetOf(vaddr);
        if (off.isEmpty() || off.getAsLong() + 2L * w > elf.bytes().size()) return null;
        long ptr = relocatedWord(elf, vaddr, off.getAsLong());
        long len = elf.readWord(off.getAsLong() + w);
        return text(elf, ptr, len);
    }

    private static long relocatedWord(ElfFile elf, long vaddr, long offset) {
        OptionalLong t = elf.relativeRelocations().targetAt(vaddr);
        return t.isPresent() ? t.getAsLong() : elf.readWord(offset);
    }

    private static String text(ElfFile elf, long ptr, long len) {
        if (len < 0 || len > 4096) return null;
        OptionalLong off = elf.fileOffsetOf(ptr);
        if (off.isEmpty() || off.getAsLong() + len > elf.bytes().size()) return null;
        byte[] b = new byte[(int) len];
        elf.bytes().read(off.getAsLong(), b, 0, b.length);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static Optional<Reading> byHeuristic(ElfFile elf) {
        Optional<SectionHeader> data = elf.section(".data");
        if (data.isEmpty() || !data.get().hasFileData()) return Optional.empty();
        SectionHeader d = data.get();
        int w = elf.is64() ? 8 : 4;
        Map<Long, String> found = new LinkedHashMap<>();
        if (elf.header().type() == ElfConstants.ET_DYN) {
            // Position-independent: a pointer stored in data exists only with its relocation (DESIGN.md 3.7).
            RelativeRelocations rel = elf.relativeRelocations();
            for (int i = 0; i < rel.size(); i++) {
                long place = rel.offsetAt(i);
                if (place < d.addr() || place - d.addr() > d.size() - 2L * w) continue;
                consider(elf, d, place, rel.targetAtIndex(i), w, found);
            }
        } else {
            for (long at = 0; at + 2L * w <= d.size(); at += w) {
                consider(elf, d, d.addr() + at, elf.readWord(d.offset() + at), w, found);
            }
        }
        if (found.isEmpty()) return Optional.empty();
        if (found.size() == 1) {
            Map.Entry<Long, String> e = found.entrySet().iterator().next();
            return Optional.of(new Reading(e.getValue(), String.format("string header in .data at vaddr 0x%x pointing "
                    + "at a NUL-terminated string, the form the Go linker gives a string set with -X; the only "
                    + "version-shaped one (no symbol table to name the variable)", e.getKey()), List.of()));
        }
        List<String> candidates = new ArrayList<>();
        found.forEach((at, v) -> candidates.add(String.format("\"%s\" (string header in .data at vaddr 0x%x)", v, at)));
        return Optional.of(new Reading(null, "several version-shaped strings set at link time; none is claimed",
                candidates));
    }

    private static void consider(ElfFile elf, SectionHeader d, long place, long ptr, int w, Map<Long, String> found) {
        long len = elf.readWord(d.offset() + (place - d.addr()) + w);
        if (len < 5 || len > MAX_LEN) return;
        OptionalLong off = elf.fileOffsetOf(ptr);
        if (off.isEmpty() || off.getAsLong() + len + 1 > elf.bytes().size()) return;
        if (!readOnly(elf, ptr)) return;
        if (elf.bytes().get(off.getAsLong() + len) != 0) return; // not linker-terminated
        String s = text(elf, ptr, len);
        if (OllamaVersion.looksLikeVersion(s)) found.putIfAbsent(place, s);
    }

    /** Whether {@code vaddr} lies in an allocated, non-writable, non-executable section. */
    private static boolean readOnly(ElfFile elf, long vaddr) {
        for (SectionHeader s : elf.sections()) {
            if (s.index() == 0 || !s.isAlloc() || !s.hasFileData()) continue;
            if (vaddr >= s.addr() && vaddr - s.addr() < s.size()) return !s.isWrite() && !s.isExecInstr();
        }
        return false;
    }
}
