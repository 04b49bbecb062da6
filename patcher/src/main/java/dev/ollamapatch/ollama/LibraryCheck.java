package dev.ollamapatch.ollama;

import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.site.DataScan;
import dev.ollamapatch.elf.Symbol;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Whether a replacement library given with {@code --lib-file NAME=FILE} can serve a binary, checked
 * like the NVML shim: an ELF shared object of the binary's machine and class, whose SONAME is a form
 * of NAME ({@code libcuda.so.1} for {@code libcuda.so} as well), exporting each function of that
 * library the binary names (the names it passes to dlsym).
 */
public final class LibraryCheck {
    /**
     * Functions Ollama looks up in the CUDA libraries (its discover/gpu code through 0.12, and the
     * native probe of 0.30+). Only these are looked for in the binary: a name found in its strings is
     * a lookup; other "cu..." text is not guessed at.
     */
    static final Map<String, Set<String>> KNOWN = Map.of(
            "libcuda", Set.of("cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetAttribute",
                    "cuDeviceGetName", "cuDeviceGetUuid", "cuDeviceGetUuid_v2", "cuDeviceTotalMem_v2", "cuCtxCreate_v3",
                    "cuMemGetInfo_v2", "cuCtxDestroy", "cuCtxDestroy_v2", "cuGetErrorString"),
            "libcudart", Set.of("cudaSetDevice", "cudaDeviceSynchronize", "cudaDeviceReset", "cudaMemGetInfo",
                    "cudaGetDeviceCount", "cudaDeviceGetAttribute", "cudaDriverGetVersion", "cudaRuntimeGetVersion",
                    "cudaGetErrorString", "cudaGetDeviceProperties"));

    private LibraryCheck() {}

    /** Each known function of the library that the target names, mapped to whether the library exports it. */
    public record Result(String library, String file, List<String> problems, TreeMap<String, Boolean> functions) {
        public boolean ok() { return problems.isEmpty(); }
    }

    public static Result check(ElfFile target, ElfFile lib, String name, String fileName) {
        List<String> problems = new ArrayList<>();
        if (lib.header().type() != ElfConstants.ET_DYN) {
            problems.add(fileName + " is not a shared object (type " + ElfNames.fileType(lib.header().type()) + ")");
        }
        if (lib.header().machine() != target.header().machine() || lib.is64() != target.is64()) {
            problems.add(String.format("%s is for %s %d-bit, the target is %s %d-bit", fileName,
                    ElfNames.machine(lib.header().machine()), lib.is64() ? 64 : 32,
                    ElfNames.machine(target.header().machine()), target.is64() ? 64 : 32));
        }
        String stem = stem(name);
        String soname = lib.dynamic().stream().filter(d -> d.tag() == ElfConstants.DT_SONAME)
                .map(DynamicEntry::string).findFirst().orElse(null);
        if (soname == null || !(soname.equals(name) || soname.startsWith(stem + ".so"))) {
            problems.add(fileName + " has SONAME " + (soname == null ? "(none)" : soname) + ", expected " + name
                    + " or another " + stem + ".so form");
        }
        Set<String> exported = new TreeSet<>();
        for (Symbol s : lib.dynamicSymbols()) {
            if (s.shndx() != 0 && (s.type() == 2 /* STT_FUNC */ || s.type() == 10 /* STT_GNU_IFUNC */)) exported.add(s.name());
        }
        TreeMap<String, Boolean> functions = new TreeMap<>();
        for (String f : namedFunctions(target, KNOWN.getOrDefault(stem, Set.of()))) functions.put(f, exported.contains(f));
        List<String> missing = functions.entrySet().stream().filter(e -> !e.getValue()).map(Map.Entry::getKey).toList();
        if (!missing.isEmpty()) problems.add(fileName + " does not export " + String.join(", ", missing));
        return new Result(name, fileName, problems, functions);
    }

    static String stem(String name) {
        int so = name.indexOf(".so");
        return so > 0 ? name.substring(0, so) : name;
    }

    /**
     * The known names present in the target's loaded data, outside Go's function table. A C name ends
     * at its NUL; a Go name may run into the next string, so a known name counts where the byte after
     * it does not continue the identifier: not an upper-case letter, digit or '_' ("cuDeviceGet" inside
     * "cuDeviceGetCount" does not count), unless another known name starts there; in a Go program a
     * lower-case letter may start the next string ("cuInit" in "cuInitunable to" counts).
     */
    static Set<String> namedFunctions(ElfFile elf, Set<String> known) {
        Set<String> out = new TreeSet<>();
        if (known.isEmpty()) return out;
        // Go packs string literals without terminators: the next string may start with any letter.
        boolean go = elf.section(".go.buildinfo").isPresent() || elf.section(".gopclntab").isPresent();
        for (String k : known) {
            byte[] n = k.getBytes(StandardCharsets.ISO_8859_1);
            DataScan.forEach(elf, n, Set.of(".gopclntab"), (b, i) -> {
                if (out.contains(k)) return;
                byte before = i > 0 ? b.get(i - 1) : 0;
                if (before == '_' || before == '.') return; // "_Cfunc_cuInit", "main.cuInit": own functions
                int end = i + n.length;
                byte after = end < b.limit() ? b.get(end) : 0;
                boolean ident = (after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z')
                        || (after >= '0' && after <= '9') || after == '_';
                boolean lower = after >= 'a' && after <= 'z';
                if (ident && !startsKnownName(b, end, known) && !(go && lower)) return;
                out.add(k);
            });
        }
        return out;
    }

    /** Whether one of the known names starts at {@code at}. */
    private static boolean startsKnownName(ByteBuffer b, int at, Set<String> known) {
        outer:
        for (String k : known) {
            if (at + k.length() > b.limit()) continue;
            for (int i = 0; i < k.length(); i++) if (b.get(at + i) != k.charAt(i)) continue outer;
            return true;
        }
        return false;
    }

}
