package dev.ollamapatch.plan;

import dev.ollamapatch.site.DataScan;
import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.elf.Symbol;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Whether a shim can serve a binary: an ELF shared object of the binary's machine and class, with
 * SONAME {@code libnvidia-ml.so.1}, exporting every NVML function the binary names in its strings
 * (the names it passes to dlsym).
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

    /** NVML functions Ollama is known to look up (DESIGN.md sections 2 and 6). */
    static final Set<String> KNOWN = Set.of("nvmlInit", "nvmlInit_v2", "nvmlInitWithFlags", "nvmlShutdown",
            "nvmlErrorString", "nvmlSystemGetDriverVersion", "nvmlSystemGetNVMLVersion",
            "nvmlSystemGetCudaDriverVersion", "nvmlSystemGetCudaDriverVersion_v2", "nvmlDeviceGetCount",
            "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetHandleByIndex_v2",
            "nvmlDeviceGetHandleByUUID", "nvmlDeviceGetHandleByPciBusId_v2", "nvmlDeviceGetName",
            "nvmlDeviceGetUUID", "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetIndex", "nvmlDeviceGetMemoryInfo",
            "nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetSerial",
            "nvmlDeviceGetVbiosVersion", "nvmlDeviceGetBoardPartNumber", "nvmlDeviceGetBrand");

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
