package dev.ollamapatch.plan;

import dev.ollamapatch.site.DataScan;
import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.elf.GlibcVersion;
import dev.ollamapatch.elf.Symbol;
import dev.ollamapatch.elf.SymbolVersionNeed;
import dev.ollamapatch.shim.BundledShims;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Whether a shim can serve a binary: an ELF shared object of the binary's machine and class, with
 * SONAME {@code libnvidia-ml.so.1}, exporting every NVML function the binary names in its strings
 * (the names it passes to dlsym), and needing no newer glibc than the binary itself needs (a shim that
 * needs more would stop a patched program from finding its GPU on a machine where the original runs).
 */
public final class ShimCheck {
    public static final String SONAME = "libnvidia-ml.so.1";

    private ShimCheck() {}

    /** Each NVML function name in the target, mapped to whether the shim exports it. */
    public record Result(String shim, List<String> problems, TreeMap<String, Boolean> functions) {
        public boolean ok() { return problems.isEmpty(); }
    }

    public static Result check(ElfFile target, ElfFile shim, String shimName) {
        List<String> problems = new ArrayList<>();
        if (shim.header().type() != ElfConstants.ET_DYN) {
            problems.add(shimName + " is not a shared object (type " + ElfNames.fileType(shim.header().type()) + ")");
        }
        if (shim.header().machine() != target.header().machine() || shim.is64() != target.is64()) {
            problems.add(String.format("%s is for %s %d-bit, the target is %s %d-bit", shimName,
                    ElfNames.machine(shim.header().machine()), shim.is64() ? 64 : 32,
                    ElfNames.machine(target.header().machine()), target.is64() ? 64 : 32));
        }
        String soname = shim.dynamic().stream().filter(d -> d.tag() == ElfConstants.DT_SONAME).map(DynamicEntry::string).findFirst()
                .orElse(null);
        if (!SONAME.equals(soname)) {
            problems.add(shimName + " has SONAME " + (soname == null ? "(none)" : soname) + ", expected " + SONAME);
        }
        glibcProblem(target, shim, shimName).ifPresent(problems::add);
        Set<String> exported = new TreeSet<>();
        for (Symbol s : shim.dynamicSymbols()) {
            if (s.shndx() != 0 && (s.type() == ElfConstants.STT_FUNC || s.type() == ElfConstants.STT_GNU_IFUNC)) exported.add(s.name());
        }
        TreeMap<String, Boolean> functions = new TreeMap<>();
        for (String name : nvmlFunctionNames(target, exported)) functions.put(name, exported.contains(name));
        List<String> missing = functions.entrySet().stream().filter(e -> !e.getValue()).map(e -> e.getKey()).toList();
        if (!missing.isEmpty()) {
            problems.add(shimName + " does not export " + String.join(", ", missing));
        }
        return new Result(shimName, problems, functions);
    }

    /**
     * The oldest glibc a shim may always need: the bundled shims need exactly this, and every Ollama build
     * for Linux needs a newer one. A target that needs less (or names no glibc version) is held to it.
     */
    static final GlibcVersion GLIBC_FLOOR = new GlibcVersion(2, 17, 0);

    /**
     * The shim's imports bound to a glibc version newer than the newest one the target needs itself
     * (at least {@link #GLIBC_FLOOR}), as one problem naming each symbol and both versions.
     */
    static java.util.Optional<String> glibcProblem(ElfFile target, ElfFile shim, String shimName) {
        GlibcVersion targetNeeds;
        try {
            targetNeeds = GlibcVersion.highestNeeded(target).orElse(null);
        } catch (ElfFormatException e) {
            targetNeeds = null;  // unreadable version table: judge by the floor alone
        }
        boolean byTarget = targetNeeds != null && targetNeeds.compareTo(GLIBC_FLOOR) > 0;
        GlibcVersion limit = byTarget ? targetNeeds : GLIBC_FLOOR;
        List<SymbolVersionNeed> newer = GlibcVersion.newerThan(shim, limit);
        if (newer.isEmpty()) return java.util.Optional.empty();
        List<String> named = newer.stream().map(n -> n.symbol() + "@" + n.version()).distinct().sorted().toList();
        String list = named.size() <= 6 ? String.join(", ", named)
                : String.join(", ", named.subList(0, 6)) + " and " + (named.size() - 6) + " more";
        return java.util.Optional.of(shimName + " needs " + list + ", newer than " + limit + ", "
                + (byTarget ? "the newest glibc version the target itself needs"
                            : "the oldest glibc a shim may need (the target needs " + (targetNeeds == null ? "no glibc version" : targetNeeds) + ")")
                + ": on a machine whose glibc runs the target but is older, the patched program could not load"
                + " the shim; build the shim against an older glibc (the bundled one needs at most " + GLIBC_FLOOR + ")");
    }

    /** NVML functions a shim exports and Ollama is known to look up: shim/nvml-functions.txt (DESIGN.md 2 and 6). */
    static final Set<String> KNOWN = BundledShims.nvmlFunctions();

    /**
     * {@code nvml[A-Z]...} names in the target's loaded data: the names it looks up. A C string ends
     * at its NUL; a Go string may run straight into the next one ("nvmlShutdownexec format error"),
     * so an unterminated identifier is cut to the longest known or exported name it starts with.
     */
    public static Set<String> nvmlFunctionNames(ElfFile elf, Set<String> exported) {
        Set<String> names = new TreeSet<>();
        byte[] prefix = {'n', 'v', 'm', 'l'};
        // Go's function table names the program's own functions; Go packs strings, so a looked-up
        // name may follow another string's last letter directly: only '_' and '.' rule one out.
        DataScan.forEach(elf, prefix, Set.of(".gopclntab"), (buf, i) -> {
            // "_Cfunc_nvmlInit", "main.nvmlLoad": names of the program's own functions, not lookups.
            if (i > 0 && (buf.get(i - 1) == '_' || buf.get(i - 1) == '.')) return;
            if (i + 4 >= buf.limit() || buf.get(i + 4) < 'A' || buf.get(i + 4) > 'Z') return;
            int end = i + 4;
            while (end < buf.limit() && isIdent(buf.get(end))) end++;
            String ident = ascii(buf, i, end);
            boolean terminated = end < buf.limit() && buf.get(end) == 0;
            names.add(terminated ? ident : longestKnownPrefix(ident, exported));
        });
        return names;
    }

    private static String longestKnownPrefix(String ident, Set<String> exported) {
        String best = null;
        for (int k = ident.length(); k > 5; k--) {
            String p = ident.substring(0, k);
            if (KNOWN.contains(p) || exported.contains(p)) {
                best = p;
                break;
            }
        }
        if (best != null) return best;
        // Unknown name in a packed string: cut where a lower-case run follows a version suffix or capital word.
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("nvml(?:[A-Z][a-z0-9]*)+(?:_v[0-9]+)?").matcher(ident);
        return m.lookingAt() ? m.group() : ident;
    }

    private static boolean isIdent(byte b) {
        return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_';
    }

    private static String ascii(ByteBuffer buf, int from, int to) {
        StringBuilder s = new StringBuilder();
        for (int i = from; i < to; i++) s.append((char) buf.get(i));
        return s.toString();
    }
}
